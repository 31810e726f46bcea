import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { GrpcOptions, Transport } from '@nestjs/microservices';
import { GRPC_PACKAGES, LOADER_OPTIONS, SERVICE_PROTOS } from './proto-files';

/** Loaded once: served by the gRPC server, used by the gRPC-web bridge to check requests, and by reflection. */
export const PACKAGE_DEFINITION = loadSync(SERVICE_PROTOS, LOADER_OPTIONS);

/** The gRPC microservice: every service of proto/, plus server reflection for grpcurl and Postman. */
export function grpcOptions(host: string, port: number): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      package: GRPC_PACKAGES,
      packageDefinition: PACKAGE_DEFINITION,
      url: `${host}:${port}`,
      gracefulShutdown: true,
      onLoadPackageDefinition: (_pkg: unknown, server: unknown) => {
        new ReflectionService(PACKAGE_DEFINITION).addToServer(
          server as Parameters<ReflectionService['addToServer']>[0],
        );
      },
    },
  };
}
