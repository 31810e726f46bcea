import type { ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';
import { ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder, status as Status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isServerFault, statusName } from '../errors/grpc-status';
import { grpcTraceOf } from '../tracing/server-spans';
import { RequestMetrics, rpcName } from './request-metrics';

type CallStatus = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/**
 * Counts each native gRPC call and logs its line, as the request log does for HTTP; first of the
 * interceptors, so it sees the statuses the others render. Metadata and messages are never logged.
 * An unknown method never gets here (grpc-js answers it), so `method.path` is a bounded label.
 */
export function grpcMetricsInterceptor(
  metrics: RequestMetrics,
  next: ServerInterceptor,
  root?: Logger,
): ServerInterceptor {
  // the line's fields are fixed and hold no secret: written without the root logger's redaction
  const logger = root?.child({}, { redact: { paths: [], censor: '' } });
  const names = new Map<string, string>();
  return (method, call) => {
    const started = performance.now();
    let counted = false;
    let name = names.get(method.path);
    if (name === undefined) names.set(method.path, (name = rpcName(method.path)));
    const rpc = name;
    const count = (code: number, cancelled = false) => {
      if (counted) return;
      counted = true;
      const seconds = (performance.now() - started) / 1000;
      metrics.observe('grpc', rpc, code, seconds);
      if (!logger) return;
      const [level, msg] = cancelled
        ? (['warn', 'call cancelled'] as const)
        : isServerFault(code)
          ? (['error', 'call errored'] as const)
          : (['info', 'call completed'] as const);
      if (!logger.isLevelEnabled(level)) return;
      const line = {
        grpc: { method: rpc, code: statusName(code) },
        responseTime: Math.round(seconds * 1000),
        ...grpcTraceOf(call),
      };
      logger[level](line, msg);
    };
    const send = call.sendStatus.bind(call);
    call.sendStatus = (status: CallStatus) => {
      count(status.code);
      send(status);
    };
    const listener = new ServerListenerBuilder()
      // the caller went away (or its deadline passed) before a status was sent
      .withOnCancel(() => count(Status.CANCELLED, true))
      .build();
    const responder = new ResponderBuilder().withStart((onward) => onward(listener)).build();
    return new ServerInterceptingCall(next(method, call), responder);
  };
}
