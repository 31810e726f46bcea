import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Metadata } from '@grpc/grpc-js';
import type { Request } from 'express';
import { Errors } from '../errors/errors';
import { CALLER, callerHolder } from './caller.decorator';
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

/** The one guard for every transport: deny by default, resolve the caller once, attach it. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly resolver: CallerResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const token = BEARER.exec(authorizationOf(context) ?? '')?.[1];
    if (!token) throw Errors.unauthenticated();
    const caller = await this.resolver.resolve(token);
    if (!caller) throw Errors.unauthenticated();
    callerHolder(context)[CALLER] = caller;
    return true;
  }
}
