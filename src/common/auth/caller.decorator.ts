import { ArgumentsHost, createParamDecorator, ExecutionContext } from '@nestjs/common';
import { CallerRef } from './caller-ref';

export const CALLER = Symbol('caller');

type WithCaller = { [CALLER]?: CallerRef };

/** Where the guard leaves the caller: the HTTP request, or the gRPC call's metadata object. */
export function callerHolder(context: ArgumentsHost): WithCaller {
  if (context.getType() === 'rpc') return context.switchToRpc().getContext<WithCaller>();
  return context.switchToHttp().getRequest<WithCaller>();
}

export const CurrentCaller = createParamDecorator((_: unknown, context: ExecutionContext): CallerRef => {
  const caller = callerHolder(context)[CALLER];
  if (!caller) throw new Error('CurrentCaller used on a route without authentication');
  return caller;
});
