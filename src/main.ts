import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createApp, grpcServerOf, onePortOf, startApp } from './app.setup';
import { validateEnvironment } from './app.config';
import { NestPinoLogger } from './common/logging/app-logger';
import { createRootLogger, stdoutDestination } from './common/logging/logging';
import { GracefulShutdown } from './common/shutdown/graceful-shutdown';
import { HttpDrain } from './common/shutdown/http-drain';
import { Readiness } from './common/shutdown/readiness';
import { loadEnvFile } from './common/startup/env-file';
import { logStartupFailure } from './common/startup/startup-error';

const out = stdoutDestination();
/** Every line, a failed start's too, goes through this one JSON logger once the settings are known. */
let logger: Logger | undefined;

async function main(): Promise<void> {
  const envFile = loadEnvFile(process.env);
  const config = validateEnvironment(process.env);
  logger = createRootLogger(config.app.logLevel, out);
  if (envFile) {
    // names only: values may be secrets
    logger.info(
      { path: envFile.path, variables: envFile.applied, overriddenByEnvironment: envFile.overridden },
      'settings read from the env file',
    );
  }
  const app = await createApp({ config, rootLogger: logger });
  const http = new HttpDrain(app.getHttpServer());
  const management = await startApp(app);
  new GracefulShutdown({
    app,
    http,
    grpc: grpcServerOf(app),
    onePort: onePortOf(app),
    readiness: app.get(Readiness),
    logger: logger.child({ context: 'Shutdown' }),
    timeoutMs: config.app.shutdownTimeoutMs,
  }).listen();
  const { port } = app.getHttpServer().address() as AddressInfo;
  const { host, grpcPort, tlsCertFile } = config.http;
  const scheme = tlsCertFile ? 'https' : 'http';
  app
    .get(NestPinoLogger)
    .log(
      `listening on ${scheme}://${host}:${port} (REST, gRPC, gRPC-web, Connect; docs at /docs)` +
        (grpcPort ? ` and gRPC on ${host}:${grpcPort}` : ''),
    );
  app
    .get(NestPinoLogger)
    .log(
      management
        ? `management listener on http://${management.address}:${management.port} (/metrics, /livez, /readyz)`
        : 'management listener off (METRICS_PORT=0)',
    );
}

main().catch((error: unknown) => {
  // one JSON line naming the setting to fix; before the settings are known, at level info
  logStartupFailure(logger ?? createRootLogger('info', out), error);
  process.exit(1);
});
