import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Metadata } from '@grpc/grpc-js';
import type { Request } from 'express';
import { Errors } from '../errors/errors';
import { CALLER, callerHolder } from './caller.decorator';
import { CallerRef } from './caller-ref';
import { CallerResolver } from './caller-resolver';
import { IS_PUBLIC } from './public.decorator';

/** RFC 6750: "Bearer", spaces, a token of visible ASCII; as gRPC metadata can carry it, so every transport reads alike. */
const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

function authorizationOf(context: ExecutionContext): string | undefined {
  if (context.getType() === 'rpc') {
    const metadata = context.switchToRpc().getContext<Metadata>();
    const value = metadata?.get?.('authorization')?.[0];
    return typeof value === 'string' ? value : undefined;
  }
  return context.switchToHttp().getRequest<Request>().headers.authorization;
}

/**
 * The one guard for every transport: deny by default; a request without a bearer token is refused
 * here, one with a token gets a CallerRef that its use-case looks up (inside its transaction where
 * it has one) and the error filter looks up for an error answered before (401 keeps precedence).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly resolver: CallerResolver,
  ) {}

  /** Whether a handler (of a class) is public: its metadata is fixed once the app is built. */
  private readonly publicHandlers = new WeakMap<object, WeakMap<object, boolean>>();

  canActivate(context: ExecutionContext): boolean {
    if (this.isPublic(context.getClass(), context.getHandler())) return true;
    const token = BEARER.exec(authorizationOf(context) ?? '')?.[1];
    // not "invalid": gRPC drops a value metadata cannot hold, so a malformed one reads as none on every transport
    if (!token) throw Errors.noToken();
    callerHolder(context)[CALLER] = new CallerRef(token, this.resolver);
    return true;
  }

  private isPublic(type: object, handler: object): boolean {
    let handlers = this.publicHandlers.get(type);
    if (!handlers) this.publicHandlers.set(type, (handlers = new WeakMap()));
    let known = handlers.get(handler);
    if (known === undefined) {
      known = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [handler as never, type as never]) === true;
      handlers.set(handler, known);
    }
    return known;
  }
}
