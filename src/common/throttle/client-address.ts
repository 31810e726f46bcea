import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ServerInterceptor, ServerUnaryCall } from '@grpc/grpc-js';
import { Metadata, ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder } from '@grpc/grpc-js';
import type { Request, Response } from 'express';
import proxyAddr from 'proxy-addr';
import { idOf } from '../logging/request-log';
import { InProcessCall } from '../rpc/in-process-call';

/** "1.2.3.4:5678" / "[::1]:5678" (older grpc-js: "ipv4:…" / "ipv6:…") → the address without the port. */
function peerAddress(peer: string): string {
  const match = /^(?:ipv[46]:)?\[?([^\]]+?)\]?:\d+$/.exec(peer);
  return match ? match[1] : peer;
}

export const REPLAYED_HEADER = 'idempotent-replayed';

/** Native gRPC calls' addresses as trusted, by the call's metadata (set by clientAddressInterceptor). */
const GRPC_ADDRESSES = new WeakMap<Metadata, string>();

/**
 * The client's address, as trusted: Express applies TRUSTED_PROXIES to req.ip; a gRPC-web or
 * Connect call carries its HTTP request's; a native gRPC call the one its interceptor resolved.
 */
export function clientAddress(context: ExecutionContext): string {
  if (context.getType() === 'rpc') {
    const call = context.getArgByIndex<ServerUnaryCall<unknown, unknown> | InProcessCall | undefined>(2);
    if (call instanceof InProcessCall) return call.clientAddress;
    const metadata = context.switchToRpc().getContext<Metadata>();
    const resolved = metadata && GRPC_ADDRESSES.get(metadata);
    if (resolved) return resolved;
    return call?.getPeer ? peerAddress(call.getPeer()) : 'unknown';
  }
  return context.switchToHttp().getRequest<Request>().ip ?? 'unknown';
}

/**
 * TRUSTED_PROXIES on native gRPC, as Express applies it to REST: behind a trusted L7 proxy the
 * client is the last untrusted address of `x-forwarded-for`; from anyone else, the peer.
 */
export function clientAddressInterceptor(trustedProxies: string | undefined): ServerInterceptor | undefined {
  if (!trustedProxies) return undefined;
  const trust = proxyAddr.compile(trustedProxies.split(',').map((p) => p.trim()));
  return (_method, call) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, onward) => {
        const forwarded = metadata.get('x-forwarded-for').filter((v): v is string => typeof v === 'string');
        const peer = peerAddress(call.getPeer());
        const request = { connection: { remoteAddress: peer }, headers: { 'x-forwarded-for': forwarded.join(',') } };
        try {
          GRPC_ADDRESSES.set(metadata, proxyAddr(request as never, trust));
        } catch {
          GRPC_ADDRESSES.set(metadata, peer);
        }
        onward(metadata);
      })
      .build();
    const responder = new ResponderBuilder().withStart((onward) => onward(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}

/** Where a request came from, as the services need it (the pumping guard counts sends by address). */
export interface RequestOrigin {
  /** as trusted (see clientAddress); "unknown" when the transport reports none */
  clientAddress: string;
  /** the correlation id: the request log's id on HTTP (x-request-id or a new one), metadata x-request-id on gRPC */
  requestId?: string;
  /** `x-captcha-token` (header or metadata), as given */
  captchaToken?: string;
  /** `Idempotency-Key` (header; `idempotency-key` metadata), as given */
  idempotencyKey?: string;
  /** Says the answer is a replay (`idempotent-replayed: true`: a REST header, native gRPC metadata). */
  markReplayed?: () => void;
}

/** One header's value on REST, or one metadata value on gRPC, gRPC-web and Connect (which forward their headers). */
export function requestValue(context: ExecutionContext, name: string): string | undefined {
  if (context.getType() === 'rpc') {
    const value = context.switchToRpc().getContext<Metadata>()?.get?.(name)?.[0];
    return typeof value === 'string' ? value : undefined;
  }
  const value = context.switchToHttp().getRequest<Request>().headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** REST: a response header; gRPC: response metadata (gRPC-web and Connect answer it as an HTTP header). */
function replayMarker(context: ExecutionContext): (() => void) | undefined {
  if (context.getType() !== 'rpc') {
    const res = context.switchToHttp().getResponse<Response>();
    return () => res.setHeader(REPLAYED_HEADER, 'true');
  }
  const call = context.getArgByIndex<ServerUnaryCall<unknown, unknown> | InProcessCall | undefined>(2);
  if (!call?.sendMetadata) return undefined;
  return () => {
    const metadata = new Metadata();
    metadata.set(REPLAYED_HEADER, 'true');
    call.sendMetadata(metadata);
  };
}

/** The request's origin, on REST, gRPC, gRPC-web and Connect alike. */
export const Origin = createParamDecorator((_: unknown, context: ExecutionContext): RequestOrigin => {
  const origin: RequestOrigin = { clientAddress: clientAddress(context) };
  const requestId =
    context.getType() === 'rpc' ? requestValue(context, 'x-request-id') : idOf(context.switchToHttp().getRequest());
  if (requestId) origin.requestId = requestId;
  const captchaToken = requestValue(context, 'x-captcha-token');
  if (captchaToken) origin.captchaToken = captchaToken;
  const idempotencyKey = requestValue(context, 'idempotency-key');
  // an empty key is a key, refused as invalid, rather than none
  if (idempotencyKey !== undefined) {
    origin.idempotencyKey = idempotencyKey;
    origin.markReplayed = replayMarker(context);
  }
  return origin;
});
