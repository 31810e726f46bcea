import 'reflect-metadata';
import { createApp, startApp } from './app.setup';
import { AppConfig } from './common/config/app-config.module';
import { NestPinoLogger } from './common/logging/app-logger';
import { stdoutDestination } from './common/logging/logging';

async function main(): Promise<void> {
  const app = await createApp({ logStream: stdoutDestination() });
  const config = app.get(AppConfig);
  await startApp(app);
  app
    .get(NestPinoLogger)
    .log(
      `listening on http://${config.HOST}:${config.PORT} (REST, gRPC-web, docs at /docs) and gRPC on ${config.HOST}:${config.GRPC_PORT}`,
    );
}

main().catch((error: unknown) => {
  // configuration errors name the variable; print them plainly and stop
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
