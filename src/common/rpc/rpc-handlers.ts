import { rpcName } from '../metrics/request-metrics';
import type { handleUnaryCall, MethodDefinition, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';

/** A unary method as grpc-js serves it: its (de)serializers and the handler Nest registered. */
export interface UnaryRpc {
  /** `/zitadel.user.v2.UserService/VerifyPhone` */
  readonly path: string;
  /** `UserService/VerifyPhone`: the metric label and log name */
  readonly name: string;
  readonly definition: MethodDefinition<object, object>;
  readonly handle: handleUnaryCall<object, object>;
}

/**
 * Every unary method of the gRPC server, with the handler Nest gave grpc-js for it (guards, pipes,
 * filters and interceptors included), so that gRPC-web and Connect calls reach the very same
 * handler in process. Filled by the gRPC server as services are added.
 */
export class RpcHandlers {
  private readonly unary = new Map<string, UnaryRpc>();

  record(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    for (const [name, definition] of Object.entries(service)) {
      const method = definition as MethodDefinition<object, object> & { originalName?: string };
      if (method.requestStream || method.responseStream) continue;
      const handle = (implementation[name] ??
        (method.originalName ? implementation[method.originalName] : undefined)) as
        handleUnaryCall<object, object> | undefined;
      if (typeof handle !== 'function') continue;
      this.unary.set(method.path, {
        path: method.path,
        name: rpcName(method.path),
        definition: method,
        handle,
      });
    }
  }

  /** The method served at `path`, or undefined. */
  get(path: string): UnaryRpc | undefined {
    return this.unary.get(path);
  }
}
