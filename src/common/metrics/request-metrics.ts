import type { Request, Response } from 'express';
import type { Metric } from 'prom-client';
import { GrpcStatus, grpcStatusOfHttp, statusName } from '../errors/grpc-status';
import { Metrics } from './metrics';

export type Transport = 'rest' | 'grpc' | 'grpc_web' | 'connect';

/** A method label of a call that matched nothing of ours (the path is the caller's: never a label). */
export const UNKNOWN_METHOD = 'unknown';

/** Seconds; most calls take a few milliseconds, a dependency's deadline is about one second. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Label = 'transport' | 'method' | 'code';

/** One label combination's counts: the counter is its `count`, the histogram all of it. */
interface Cell {
  labels: Record<Label, string>;
  count: number;
  sum: number;
  /** per bucket, not cumulative (the exposition sums them up); the last one is +Inf */
  buckets: Float64Array;
}

/** What the HTTP stack leaves on `res.locals` for the request's series. */
interface Locals {
  /** the gRPC code the error filter answered with (a 400 is INVALID_ARGUMENT or FAILED_PRECONDITION) */
  grpcCode?: number;
  /** set by gRPC-web and Connect: the request is a call of that transport */
  rpcTransport?: 'grpc_web' | 'connect';
  /** the call's method (`UserService/VerifyPhone`), undefined when it matched none of ours */
  rpcMethod?: string;
  /** the status it was answered with */
  rpcCode?: number;
}

/**
 * `pv_requests_total` and `pv_request_duration_seconds` by transport, method and code, with bounded
 * labels (an RPC name or a route template, never a path). Plain counts rendered when scraped, not
 * prom-client counters (ADR 0020); the counter is the histogram's count.
 */
export class RequestMetrics {
  private readonly cells: Cell[] = [];
  private readonly byTransport = new Map<Transport, Map<string, Cell[]>>();
  /** "POST /v2/users/:userId/phone/verify" → "UserService/VerifyPhone", from the OpenAPI operations */
  private readonly restOperations = new Map<string, Map<string, string>>();

  constructor(metrics: Metrics) {
    const cells = this.cells;
    metrics.registry.registerMetric(
      series(
        'pv_requests_total',
        'counter',
        'Requests answered, by transport (rest, grpc, grpc_web, connect), method (RPC name) and gRPC status name',
        () => cells.map((cell) => ({ labels: cell.labels, value: cell.count })),
      ),
    );
    metrics.registry.registerMetric(
      series(
        'pv_request_duration_seconds',
        'histogram',
        'Time from receiving a request to the end of its answer, by transport, method and gRPC status name',
        () => cells.flatMap(histogramValues),
      ),
    );
  }

  /** One answered request. */
  observe(transport: Transport, method: string, code: number, seconds: number): void {
    const cell = this.cellOf(transport, method, code);
    cell.count++;
    cell.sum += seconds;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]) i++;
    cell.buckets[i]++;
  }

  /** The REST operations (OpenAPI paths `/v2/users/{userId}` with their operation ids `UserService_GetUserByID`). */
  setRestOperations(paths: Record<string, object>): void {
    for (const [path, operations] of Object.entries(paths)) {
      const template = path.replace(/\{([^}]+)\}/g, ':$1');
      for (const [verb, operation] of Object.entries(operations as Record<string, unknown>)) {
        const id = (operation as { operationId?: unknown } | undefined)?.operationId;
        if (typeof id !== 'string') continue;
        let byVerb = this.restOperations.get(template);
        if (!byVerb) this.restOperations.set(template, (byVerb = new Map()));
        byVerb.set(verb.toUpperCase(), id.replace('_', '/'));
      }
    }
  }

  /**
   * Called by the request log when an HTTP exchange is over (REST and gRPC-web); `aborted`: the
   * client went away before the answer reached it (CANCELLED, as gRPC counts it).
   */
  observeHttp(req: Request, res: Response, seconds: number, aborted = false): void {
    const locals = res.locals as Locals | undefined;
    // a gRPC-web or Connect call: one of ours (the method is known), or one refused before (method unknown)
    if (locals?.rpcTransport !== undefined) {
      const code = aborted ? GrpcStatus.CANCELLED : (locals.rpcCode ?? GrpcStatus.UNKNOWN);
      return this.observe(locals.rpcTransport, locals.rpcMethod ?? UNKNOWN_METHOD, code, seconds);
    }
    const code = aborted
      ? GrpcStatus.CANCELLED
      : (locals?.grpcCode ?? (res.statusCode < 400 ? GrpcStatus.OK : grpcStatusOfHttp(res.statusCode)));
    this.observe('rest', this.restMethod(req), code, seconds);
  }

  private restMethod(req: Request): string {
    const template = (req as { route?: { path?: unknown } }).route?.path;
    if (typeof template !== 'string') return UNKNOWN_METHOD;
    const byVerb = this.restOperations.get(template);
    const verb = req.method === 'HEAD' ? 'GET' : req.method;
    // a route of ours outside the OpenAPI document (/debug/healthz): still a template, so bounded
    return byVerb?.get(verb) ?? `${verb} ${template}`;
  }

  private cellOf(transport: Transport, method: string, code: number): Cell {
    let byMethod = this.byTransport.get(transport);
    if (!byMethod) this.byTransport.set(transport, (byMethod = new Map()));
    let byCode = byMethod.get(method);
    if (!byCode) byMethod.set(method, (byCode = []));
    let cell = byCode[code];
    if (!cell) {
      const labels = { transport, method, code: statusName(code) };
      cell = byCode[code] = { labels, count: 0, sum: 0, buckets: new Float64Array(BUCKETS.length + 1) };
      this.cells.push(cell);
    }
    return cell;
  }
}

type Value = { labels: Record<string, string | number>; value: number; metricName?: string };

/** A series as prom-client's registry renders it (what its own metrics hand it from `get()`). */
function series(name: string, type: 'counter' | 'histogram', help: string, values: () => Value[]): Metric {
  const get = () => Promise.resolve({ name, help, type, aggregator: 'sum' as const, values: values() });
  return { name, help, type, aggregator: 'sum', get, reset: () => undefined } as unknown as Metric;
}

function histogramValues(cell: Cell): Value[] {
  const values: Value[] = [];
  let cumulative = 0;
  for (let i = 0; i <= BUCKETS.length; i++) {
    cumulative += cell.buckets[i];
    const le = i < BUCKETS.length ? BUCKETS[i] : '+Inf';
    values.push({
      metricName: 'pv_request_duration_seconds_bucket',
      labels: { ...cell.labels, le },
      value: cumulative,
    });
  }
  values.push({ metricName: 'pv_request_duration_seconds_sum', labels: cell.labels, value: cell.sum });
  values.push({ metricName: 'pv_request_duration_seconds_count', labels: cell.labels, value: cell.count });
  return values;
}

/** For the error filter: the gRPC code of the REST answer (its HTTP status alone can be two codes). */
export function noteRestCode(res: Response, code: number): void {
  if (res.locals) (res.locals as Locals).grpcCode = code;
}

/** For gRPC-web and Connect: the request is a call of `transport`, of `method` when it is one of ours. */
export function noteRpcCall(res: Response, transport: 'grpc_web' | 'connect', method: string | undefined): void {
  if (!res.locals) return;
  (res.locals as Locals).rpcTransport = transport;
  (res.locals as Locals).rpcMethod = method;
}

/** For gRPC-web and Connect: the status the call was answered with. */
export function noteRpcCode(res: Response, code: number): void {
  if (res.locals) (res.locals as Locals).rpcCode = code;
}

/** `/zitadel.user.v2.UserService/VerifyPhone` → `UserService/VerifyPhone`. */
export function rpcName(path: string): string {
  const slash = path.lastIndexOf('/');
  const service = path.slice(1, slash);
  return `${service.slice(service.lastIndexOf('.') + 1)}/${path.slice(slash + 1)}`;
}
