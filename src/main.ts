import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createApp, grpcServerOf, startApp } from './app.setup';
import { AppConfig } from './common/config/app-config.module';
import { NestPinoLogger, ROOT_LOGGER } from './common/logging/app-logger';
import { stdoutDestination } from './common/logging/logging';
import { GracefulShutdown } from './common/shutdown/graceful-shutdown';
import { HttpDrain } from './common/shutdown/http-drain';
import { Readiness } from './common/shutdown/readiness';

async function main(): Promise<void> {
  const app = await createApp({ logStream: stdoutDestination() });
  const config = app.get(AppConfig);
  const http = new HttpDrain(app.getHttpServer());
  await startApp(app);
  new GracefulShutdown({
    app,
    http,
    grpc: grpcServerOf(app),
    readiness: app.get(Readiness),
    logger: app.get(ROOT_LOGGER).child({ context: 'Shutdown' }),
    timeoutMs: config.SHUTDOWN_TIMEOUT,
  }).listen();
  const { port } = app.getHttpServer().address() as AddressInfo;
  app
    .get(NestPinoLogger)
    .log(
      `listening on http://${config.HOST}:${port} (REST, gRPC-web, docs at /docs) and gRPC on ${config.HOST}:${config.GRPC_PORT}`,
    );
}

main().catch((error: unknown) => {
  // configuration errors name the variable; print them plainly and stop
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
