import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MetricsSettings } from './metrics.settings';
import { AppError, toErrorBody } from '../errors/app-error';
import { GrpcStatus, httpStatusOf } from '../errors/grpc-status';
import { ReadinessChecks } from '../health/readiness-checks';
import { StartupError } from '../startup/startup-error';
import { Metrics } from './metrics';
import { answerJson } from '../http/json-response';

/** Where the management listener binds when METRICS_HOST is unset. */
export const MANAGEMENT_DEFAULT_HOST = '127.0.0.1';

/**
 * The management listener on METRICS_PORT: `GET /metrics` (Prometheus text format), `/livez` and
 * `/readyz` (the public port's readiness check), nothing of the API. A plain node:http server
 * of its own, outside Express and Nest's routing, guards and throttle: it answers while the
 * public port is saturated or draining. It starts after the public listeners and closes with the
 * app, after they have drained (a shutdown keeps it scrapeable until then).
 */
@Injectable()
export class ManagementServer implements OnApplicationShutdown {
  private server?: Server;

  constructor(
    private readonly config: MetricsSettings,
    private readonly metrics: Metrics,
    private readonly checks: ReadinessChecks,
  ) {}

  /** Starts listening; the address, or undefined when METRICS_PORT is 0. */
  async listen(): Promise<AddressInfo | undefined> {
    if (this.config.port === 0 || this.server) return this.address();
    // unauthenticated: loopback unless the operator opens it (a scraper in another pod, METRICS_HOST=0.0.0.0)
    const host = this.config.host ?? MANAGEMENT_DEFAULT_HOST;
    const server = createServer((req, res) => void this.handle(req, res));
    // a scraper's keep-alive connection must not hold the stop up
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new StartupError(
            `METRICS_PORT ${this.config.port} on ${host} cannot be opened (${error.code ?? error.message}); set another port, or 0 for none`,
            { setting: 'METRICS_PORT', reason: error.code ?? error.message, host, port: this.config.port },
          ),
        ),
      );
      server.listen(this.config.port, host, () => resolve());
    });
    this.server = server;
    return this.address();
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /** After the public listeners have closed (Nest runs this hook last). */
  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // idle keep-alive connections now; a scrape in flight gets its answer, then its socket closes
      server.closeIdleConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return this.json(res, 405, {
          code: GrpcStatus.UNIMPLEMENTED,
          message: `${req.method} is not allowed here; use GET`,
        });
      }
      const path = (req.url ?? '').split('?', 1)[0];
      switch (path) {
        case '/metrics': {
          const text = await this.metrics.registry.metrics();
          res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
          res.end(req.method === 'HEAD' ? undefined : text);
          return;
        }
        case '/livez':
          return this.json(res, 200, { status: 'SERVING' });
        case '/readyz': {
          const answer = await this.checks.answer();
          if (answer instanceof AppError) return this.json(res, httpStatusOf(answer.code), toErrorBody(answer));
          return this.json(res, 200, answer);
        }
        default:
          return this.json(res, 404, {
            code: GrpcStatus.NOT_FOUND,
            message: 'no such route here: GET /metrics, /livez or /readyz',
          });
      }
    } catch {
      // a collector that threw: the scrape fails, the process does not
      if (!res.headersSent)
        this.json(res, 500, { code: GrpcStatus.INTERNAL, message: 'metrics could not be collected' });
      else res.destroy();
    }
  }

  private json(res: ServerResponse, status: number, body: object): void {
    answerJson(res, status, body);
  }
}
