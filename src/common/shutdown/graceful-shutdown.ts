import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import { HttpDrain } from './http-drain';
import { Readiness } from './readiness';

/** Share of SHUTDOWN_TIMEOUT after which connections still open are cut, leaving the rest to close the app. */
const CUT_OFF_SHARE = 0.8;

export interface GracefulShutdownOptions {
  app: INestApplication;
  http: HttpDrain;
  grpc?: GrpcServer;
  /** HTTP/2 and TLS on the HTTP port: our sessions get GOAWAY (grpc-js ends its own) */
  onePort?: { drain(): void; cut(): number };
  readiness: Readiness;
  logger: Logger;
  timeoutMs: number;
  exit?: (code: number) => void;
}

/**
 * The stop on SIGTERM / SIGINT: not ready at once, connections drained, those still open at
 * CUT_OFF_SHARE of the timeout cut, then the app closes. It ends within the timeout whatever clients do.
 */
export class GracefulShutdown {
  private startedAt?: number;
  private finished = false;
  private stage = 'connections';

  constructor(private readonly options: GracefulShutdownOptions) {}

  listen(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
    // a second signal changes nothing: the deadline already bounds the stop
    for (const signal of signals) process.on(signal, () => void this.run(signal));
  }

  async run(signal: string): Promise<void> {
    if (this.startedAt !== undefined) return;
    this.startedAt = Date.now();
    const { app, http, grpc, onePort, readiness, logger, timeoutMs } = this.options;
    logger.info({ signal, timeoutMs }, 'shutdown started');
    const deadline = setTimeout(() => this.finish(1, { deadlineHit: this.stage }), timeoutMs);
    readiness.stop();

    let cut = 0;
    const cutOff = setTimeout(() => {
      cut = http.cut() + (onePort?.cut() ?? 0);
      grpc?.forceShutdown();
    }, timeoutMs * CUT_OFF_SHARE);
    onePort?.drain();
    await Promise.all([http.drain(), grpc ? new Promise<void>((done) => grpc.tryShutdown(() => done())) : undefined]);
    clearTimeout(cutOff);

    this.stage = 'app';
    try {
      await app.close();
    } catch (error) {
      clearTimeout(deadline);
      return this.finish(1, { err: error });
    }
    clearTimeout(deadline);
    this.finish(0, { connectionsCut: cut });
  }

  private finish(code: number, fields: object): void {
    if (this.finished) return;
    this.finished = true;
    const durationMs = Date.now() - this.startedAt!;
    this.options.logger[code === 0 ? 'info' : 'error']({ ...fields, durationMs, exitCode: code }, 'shutdown complete');
    (this.options.exit ?? process.exit)(code);
  }
}
