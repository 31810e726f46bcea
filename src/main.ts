import 'reflect-metadata';
import { Logger } from 'nestjs-pino';
import { createApp, startApp } from './app.setup';
import { AppConfig } from './common/config/app-config.module';

async function main(): Promise<void> {
  const app = await createApp();
  const config = app.get(AppConfig);
  await startApp(app);
  app
    .get(Logger)
    .log(
      `listening on http://${config.HOST}:${config.PORT} (REST, gRPC-web, docs at /docs) and gRPC on ${config.HOST}:${config.GRPC_PORT}`,
    );
}

main().catch((error: unknown) => {
  // configuration errors name the variable; print them plainly and stop
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
