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
 * What the server decodes requests with. proto3 cannot tell an omitted string from "" (Go and
 * connect clients leave it out, protobufjs writes it), so plain scalars decode to their defaults
 * and a request validates the same either way; unset messages (null under `defaults`) stay absent.
 * Of a oneof set more than once the last member wins, as protobuf has it. Bytes that are no
 * encoding of the request, or whose strings are no UTF-8, become the `undecodable` marker
 * (INVALID_ARGUMENT later).
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
 * The gRPC microservice: every service of proto/, plus server reflection for grpcurl and Postman.
 * grpc-js's own statuses and log lines go through library-status.ts (the logger is process-wide).
 * `onServer` receives grpc-js's server (Nest does not expose it; the graceful stop drains it).
 * `metrics` counts every call in the request series, and each gets a line in `logger`'s log.
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
