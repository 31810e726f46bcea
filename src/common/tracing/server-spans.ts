import { isServerFault } from '../errors/grpc-status';
import type { ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';
import { ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder, status as Status } from '@grpc/grpc-js';
import type { Request } from 'express';
import { TraceScope, Tracing } from './tracing';

const HTTP_SCOPES = new WeakMap<Request, TraceScope>();

/** The HTTP request's span (REST, gRPC-web), made by the request log. */
export function httpScopeOf(req: Request): TraceScope | undefined {
  return HTTP_SCOPES.get(req);
}

/** A server span for an HTTP request: ended by the request log with the status. */
export function startHttpSpan(tracing: Tracing, req: Request): TraceScope | undefined {
  const scope = tracing.startServer(`${req.method}`, { 'http.request.method': req.method }, req.headers);
  if (scope) HTTP_SCOPES.set(req, scope);
  return scope;
}

/** Ends it with the route template (never the path: it holds user ids) and the status. */
export function endHttpSpan(scope: TraceScope, req: Request, statusCode: number): void {
  const template = (req as { route?: { path?: unknown } }).route?.path;
  const route = scope.route ?? (typeof template === 'string' ? `${req.baseUrl ?? ''}${template}` : undefined);
  if (route) scope.span?.updateName(`${req.method} ${route}`);
  scope.end({ 'http.response.status_code': statusCode, ...(route ? { 'http.route': route } : {}) }, statusCode >= 500);
}

type CallStatus = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/**
 * A server span per gRPC call, ended with the status that leaves: it comes before the
 * library-status interceptor, so it sees grpc-js's own statuses rendered.
 */
/** The span of each native gRPC call (keyed by grpc-js's call object), for its log line. */
const GRPC_SCOPES = new WeakMap<object, TraceScope>();

/** The trace and span ids of a gRPC call's server span, while it has one. */
export function grpcTraceOf(call: object): { trace_id: string; span_id: string } | undefined {
  const span = GRPC_SCOPES.get(call)?.span?.spanContext();
  return span ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
}

export function grpcTracingInterceptor(tracing: Tracing, next: ServerInterceptor): ServerInterceptor {
  return (method, call) => {
    let scope: TraceScope | undefined;
    const send = call.sendStatus.bind(call);
    call.sendStatus = (status: CallStatus) => {
      scope?.end({ 'rpc.grpc.status_code': status.code }, isServerFault(status.code));
      scope = undefined;
      send(status);
    };
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, onward) => {
        const [service, rpc] = method.path.replace(/^\//, '').split('/');
        scope = tracing.startServer(
          `${service}/${rpc}`,
          { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': rpc },
          metadata.getMap(),
        );
        if (scope) GRPC_SCOPES.set(call, scope);
        onward(metadata);
      })
      // the handler (guards included) is started from these: its work becomes the span's children
      .withOnReceiveMessage((message, onward) => (scope ? scope.run(() => onward(message)) : onward(message)))
      .withOnReceiveHalfClose((onward) => (scope ? scope.run(onward) : onward()))
      // the caller went away (or its deadline passed) before a status was sent
      .withOnCancel(() => {
        scope?.end({ 'rpc.grpc.status_code': Status.CANCELLED }, false);
        scope = undefined;
      })
      .build();
    const responder = new ResponderBuilder().withStart((onward) => onward(listener)).build();
    return new ServerInterceptingCall(next(method, call), responder);
  };
}

/**
 * Continues the request's span after the body parser (whose callbacks run outside it), so the
 * guards', pipes' and handler's statements and Redis commands become its children.
 */
export function continueHttpSpan(req: Request, _res: unknown, next: () => void): void {
  const scope = HTTP_SCOPES.get(req);
  if (scope) scope.run(next);
  else next();
}
