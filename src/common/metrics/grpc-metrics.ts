import type { ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';
import { ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder, status as Status } from '@grpc/grpc-js';
import { BRIDGE_SECRET, BRIDGE_SECRET_HEADER } from '../throttle/client-address';
import { RequestMetrics, rpcName } from './request-metrics';

type CallStatus = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

/**
 * Counts each native gRPC call in the request series, with the status that leaves (it comes
 * first, so it sees the statuses the interceptors after it render). Calls of the gRPC-web bridge
 * are left out here: the bridge's HTTP request counts them, as grpc_web, with the browser's
 * wait included. A method the server does not have is answered by grpc-js before any
 * interceptor, so `method.path` is always one of ours (a bounded label).
 */
export function grpcMetricsInterceptor(metrics: RequestMetrics, next: ServerInterceptor): ServerInterceptor {
  const names = new Map<string, string>();
  return (method, call) => {
    const started = performance.now();
    let counted = false;
    let name = names.get(method.path);
    if (name === undefined) names.set(method.path, (name = rpcName(method.path)));
    const rpc = name;
    const count = (code: number) => {
      if (counted) return;
      counted = true;
      metrics.observe('grpc', rpc, code, (performance.now() - started) / 1000);
    };
    const send = call.sendStatus.bind(call);
    call.sendStatus = (status: CallStatus) => {
      count(status.code);
      send(status);
    };
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, onward) => {
        if (metadata.get(BRIDGE_SECRET_HEADER)[0] === BRIDGE_SECRET) counted = true;
        onward(metadata);
      })
      // the caller went away (or its deadline passed) before a status was sent
      .withOnCancel(() => count(Status.CANCELLED))
      .build();
    const responder = new ResponderBuilder().withStart((onward) => onward(listener)).build();
    return new ServerInterceptingCall(next(method, call), responder);
  };
}
