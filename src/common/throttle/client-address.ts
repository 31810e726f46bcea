import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import type { Request } from 'express';
import { randomBytes } from 'node:crypto';

/**
 * The gRPC-web bridge forwards calls to our own gRPC server over loopback; it passes the browser's
 * address in `x-forwarded-for` together with this per-process secret, so no other caller can
 * claim an address it does not have.
 */
export const BRIDGE_SECRET = randomBytes(16).toString('hex');
export const BRIDGE_SECRET_HEADER = 'x-pv-bridge';

/** "1.2.3.4:5678" / "[::1]:5678" (older grpc-js: "ipv4:…" / "ipv6:…") → the address without the port. */
function peerAddress(peer: string): string {
  const match = /^(?:ipv[46]:)?\[?([^\]]+?)\]?:\d+$/.exec(peer);
  return match ? match[1] : peer;
}

/** The client's address, as trusted: Express applies TRUSTED_PROXIES to req.ip; gRPC uses the peer. */
export function clientAddress(context: ExecutionContext): string {
  if (context.getType() === 'rpc') {
    const metadata = context.switchToRpc().getContext<Metadata>();
    if (metadata?.get?.(BRIDGE_SECRET_HEADER)?.[0] === BRIDGE_SECRET) {
      const forwarded = metadata.get('x-forwarded-for')[0];
      if (typeof forwarded === 'string' && forwarded) return forwarded;
    }
    const call = context.getArgByIndex<ServerUnaryCall<unknown, unknown>>(2);
    return call?.getPeer ? peerAddress(call.getPeer()) : 'unknown';
  }
  return context.switchToHttp().getRequest<Request>().ip ?? 'unknown';
}

/** Where a request came from, as the services need it (the pumping guard counts sends by address). */
export interface RequestOrigin {
  /** as trusted (see clientAddress); "unknown" when the transport reports none */
  clientAddress: string;
}

/** The request's origin, on REST, gRPC and gRPC-web alike. */
export const Origin = createParamDecorator((_: unknown, context: ExecutionContext): RequestOrigin => ({
  clientAddress: clientAddress(context),
}));
