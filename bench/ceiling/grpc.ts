/**
 * Ceiling for gRPC: a bare @grpc/grpc-js server answering zitadel.user.v2.UserService/VerifyPhone
 * (the real proto, so requests and answers are (de)serialised as in the service) with a constant,
 * and nothing else. Run by bench/run.ts as its own process: GRPC_PORT=… node -r
 * ts-node/register/transpile-only bench/ceiling/grpc.ts
 */
import { loadPackageDefinition, Server, ServerCredentials, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { LOADER_OPTIONS, SERVICE_PROTOS } from '../../src/common/grpc/proto-files';

const definition = loadSync(SERVICE_PROTOS, LOADER_OPTIONS);
const loaded = loadPackageDefinition(definition) as any;
const service = loaded.zitadel.user.v2.UserService.service as ServiceDefinition;

const server = new Server();
server.addService(service, {
  VerifyPhone: (
    _call: unknown,
    callback: (error: null, response: { details: { sequence: string; resourceOwner: string } }) => void,
  ) => {
    callback(null, { details: { sequence: '1', resourceOwner: 'ceiling' } });
  },
});

server.bindAsync(`127.0.0.1:${Number(process.env.GRPC_PORT ?? 50051)}`, ServerCredentials.createInsecure(), (error) => {
  if (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write('listening\n');
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => server.tryShutdown(() => process.exit(0)));
}
