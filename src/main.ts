import 'reflect-metadata';
import { Logger } from 'nestjs-pino';
import { destination } from 'pino';
import { createApp, startApp } from './app.setup';
import { AppConfig } from './common/config/app-config.module';

async function main(): Promise<void> {
  // The log goes to stdout one synchronous write per line. pino's default stdout stream is
  // asynchronous and hands the file at most 16 KB per event-loop turn: under load (64 requests in
  // flight write more than that per turn) its queue of unwritten lines grows for as long as the
  // load lasts (3 MB after 90 s of VerifyPhone). Writing each line costs no more CPU than queueing it.
  const app = await createApp({ logStream: destination({ dest: 1, sync: true }) });
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
