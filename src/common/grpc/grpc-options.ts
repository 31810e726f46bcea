import type { Server } from '@grpc/grpc-js';
import { loadSync, PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { GrpcOptions, Transport } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { boundUnknownMethod, libraryStatusInterceptor, routeGrpcLogs } from './library-status';
import { GRPC_PACKAGES, LOADER_OPTIONS, SERVICE_PROTOS } from './proto-files';
import { grpcTracingInterceptor } from '../tracing/server-spans';
import { grpcMetricsInterceptor } from '../metrics/grpc-metrics';
import type { RequestMetrics } from '../metrics/request-metrics';
import { DISABLED, Tracing } from '../tracing/tracing';
import { lastOneofWins } from './oneof-last-wins';
import { requestTypeOf } from './proto-root';
import { wireCheck } from './wire-check';
import { reflectionDefinition } from './reflection';
import { undecodable } from './undecodable';
import { clientAddressInterceptor } from '../throttle/client-address';

/** Loaded once (tests compare the server's definition with it). */
export const PACKAGE_DEFINITION = loadSync(SERVICE_PROTOS, LOADER_OPTIONS);

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, inner]) => inner !== null)
      .map(([key, inner]) => [key, withoutNulls(inner)]),
  );
}

/**
 * Request decoding: proto3 cannot tell an omitted string from "", so scalars decode to defaults and
 * validate the same either way; the last member of a oneof wins; bytes that are no encoding of the
 * request become the `undecodable` marker (INVALID_ARGUMENT later).
 */
function serverDefinition(): PackageDefinition {
  const definition = loadSync(SERVICE_PROTOS, { ...LOADER_OPTIONS, defaults: true });
  for (const [serviceName, service] of Object.entries(definition)) {
    if ('format' in service) continue;
    for (const [methodName, method] of Object.entries(service)) {
      const decode = method.requestDeserialize;
      const fix = lastOneofWins(serviceName, methodName);
      const wellFormed = wireCheck(requestTypeOf(serviceName, methodName));
      method.requestDeserialize = (bytes: Buffer) => {
        try {
          if (wellFormed && !wellFormed(bytes)) return undecodable();
          const decoded = decode(bytes) as Record<string, unknown>;
          fix?.(decoded, bytes);
          return withoutNulls(decoded) as object;
        } catch {
          return undecodable();
        }
      };
    }
  }
  return definition;
}

/**
 * The gRPC microservice: every service of proto/ and server reflection. `onServer` receives grpc-js's
 * server, which Nest does not expose, for the graceful stop.
 */
export function grpcOptions(
  host: string,
  port: number,
  logger?: Logger,
  onServer?: (server: Server) => void,
  tracing: Tracing = DISABLED,
  metrics?: RequestMetrics,
  trustedProxies?: string,
): GrpcOptions {
  if (logger) routeGrpcLogs(logger);
  const rendering = tracing.enabled
    ? grpcTracingInterceptor(tracing, libraryStatusInterceptor)
    : libraryStatusInterceptor;
  return {
    transport: Transport.GRPC,
    options: {
      package: GRPC_PACKAGES,
      packageDefinition: serverDefinition(),
      url: `${host}:${port}`,
      gracefulShutdown: true,
      channelOptions: {
        interceptors: [
          metrics ? grpcMetricsInterceptor(metrics, rendering, logger) : rendering,
          ...(trustedProxies ? [clientAddressInterceptor(trustedProxies)!] : []),
        ],
      },
      onLoadPackageDefinition: (_pkg: unknown, server: unknown) => {
        boundUnknownMethod(server);
        new ReflectionService(reflectionDefinition()).addToServer(
          server as Parameters<ReflectionService['addToServer']>[0],
        );
        onServer?.(server as Server);
      },
    },
  };
}
