import { Client, credentials, Metadata, ServiceError, status as Status, StatusObject } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { PACKAGE_DEFINITION } from './grpc-options';
import { encodeGrpcMessage, frame, FrameError, DATA_FRAME, readUnaryMessage, trailerFrame } from './grpc-web-frames';
import { BRIDGE_SECRET, BRIDGE_SECRET_HEADER } from '../throttle/client-address';
import { STATUS_DETAILS_KEY } from './status-details';

const ALLOW_HEADERS = 'authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, x-request-id';
const EXPOSE_HEADERS = 'grpc-status, grpc-message, grpc-status-details-bin';
const FORWARDED_HEADERS = ['authorization', 'x-request-id', 'x-user-agent'];
const CONTENT_TYPE = /^application\/grpc-web(-text)?(\+proto)?\s*(;.*)?$/i;

/** Every unary method we serve, by its HTTP path `/<package>.<Service>/<Method>`. */
const METHODS = new Map<string, MethodDefinition<object, object>>();
for (const service of Object.values(PACKAGE_DEFINITION)) {
  if ('format' in service) continue; // a message or enum, not a service
  for (const method of Object.values(service)) {
    if (!method.requestStream && !method.responseStream) METHODS.set(method.path, method);
  }
}
const SERVICE_PATH = /^\/(zitadel\.[a-z0-9.]+\.[A-Za-z]+Service|grpc\.health\.v1\.Health)\/[A-Za-z]+$/;

export interface GrpcWebBridgeOptions {
  grpcPort: number;
  corsOrigins: string;
  bodyLimit: number;
}

function parseTimeout(value: string | undefined): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value ?? '');
  if (!match) return undefined;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[match[2] as 'H'];
  return Number(match[1]) * unitMs;
}

/**
 * gRPC-web on the HTTP port: unframes the browser's call, forwards it to our own gRPC server over
 * loopback (so the same guard, validation and error rendering apply), and frames the answer and
 * trailers back. A malformed call gets INVALID_ARGUMENT from here and never reaches the server.
 */
export function grpcWebBridge(options: GrpcWebBridgeOptions): RequestHandler {
  let client: Client | undefined;
  const origins = options.corsOrigins === '*' ? '*' : new Set(options.corsOrigins.split(',').map((o) => o.trim()));

  const cors = (req: Request, res: Response) => {
    const origin = req.headers.origin;
    if (origins === '*') res.setHeader('Access-Control-Allow-Origin', '*');
    else if (origin && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
    }
    res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
  };

  return (req: Request, res: Response, next: NextFunction) => {
    const isService = SERVICE_PATH.test(req.path);
    const contentType = req.headers['content-type'] ?? '';
    const isGrpcWeb = CONTENT_TYPE.test(contentType);
    if (!isService && !isGrpcWeb) return next();

    cors(req, res);
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOW_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    const text = /grpc-web-text/i.test(contentType);
    const reply = (code: number, message: string, payload?: Buffer, trailers?: Metadata) => {
      const fields: Record<string, string> = {
        'grpc-status': String(code),
        'grpc-message': encodeGrpcMessage(message),
      };
      const details = trailers?.get(STATUS_DETAILS_KEY)[0];
      if (Buffer.isBuffer(details)) fields[STATUS_DETAILS_KEY] = details.toString('base64');
      const body = Buffer.concat([...(payload ? [frame(DATA_FRAME, payload)] : []), trailerFrame(fields)]);
      res.status(200);
      res.setHeader('Content-Type', text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto');
      res.end(text ? body.toString('base64') : body);
    };

    if (req.method !== 'POST') return reply(Status.UNIMPLEMENTED, `gRPC-web calls use POST, not ${req.method}`);
    if (!isGrpcWeb) {
      return reply(Status.INVALID_ARGUMENT, `content-type must be application/grpc-web+proto, got "${contentType}"`);
    }
    const method = METHODS.get(req.path);
    if (!method) return reply(Status.UNIMPLEMENTED, `unknown method ${req.path}`);

    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.bodyLimit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) return reply(Status.RESOURCE_EXHAUSTED, `request larger than ${options.bodyLimit} bytes`);
      let message: Buffer;
      try {
        const raw = Buffer.concat(chunks);
        message = readUnaryMessage(text ? Buffer.from(raw.toString('latin1'), 'base64') : raw);
        method.requestDeserialize(message);
      } catch (error) {
        const why =
          error instanceof FrameError ? error.message : 'the message is not a valid protobuf encoding of the request';
        return reply(Status.INVALID_ARGUMENT, `malformed gRPC-web request: ${why}`);
      }
      const metadata = new Metadata();
      for (const header of FORWARDED_HEADERS) {
        const value = req.headers[header];
        if (typeof value === 'string') metadata.set(header, value);
      }
      metadata.set('x-forwarded-for', req.ip ?? '');
      metadata.set(BRIDGE_SECRET_HEADER, BRIDGE_SECRET);
      const timeout = parseTimeout(req.headers['grpc-timeout'] as string | undefined);
      client ??= new Client(`127.0.0.1:${options.grpcPort}`, credentials.createInsecure());
      let answer: Buffer | undefined;
      const call = client.makeUnaryRequest<Buffer, Buffer>(
        req.path,
        (b) => b,
        (b) => b,
        message,
        metadata,
        timeout === undefined ? {} : { deadline: Date.now() + timeout },
        (error: ServiceError | null, value?: Buffer) => {
          if (!error) answer = value;
        },
      );
      call.on('status', (status: StatusObject) => {
        reply(status.code, status.code === Status.OK ? '' : status.details, answer, status.metadata);
      });
      res.on('close', () => {
        if (!res.writableFinished) call.cancel();
      });
    });
  };
}
