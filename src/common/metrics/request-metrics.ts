import type { Request, Response } from 'express';
import { Counter, Histogram } from 'prom-client';
import { GrpcStatus, grpcStatusOfHttp } from '../errors/grpc-status';
import { Metrics } from './metrics';

export type Transport = 'rest' | 'grpc' | 'grpc_web';

/** A method label of a call that matched nothing of ours (the path is the caller's: never a label). */
export const UNKNOWN_METHOD = 'unknown';

/** Seconds; most calls take a few milliseconds, a dependency's deadline is about one second. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const LABELS = ['transport', 'method', 'code'] as const;

/** Status names by number, as the code label shows them (OK, INVALID_ARGUMENT, …). */
const CODE_NAMES: string[] = [];
for (const [name, value] of Object.entries(GrpcStatus)) if (typeof value === 'number') CODE_NAMES[value] = name;

interface Children {
  count: { inc(): void };
  duration: { observe(seconds: number): void };
}

/** What the HTTP stack leaves on `res.locals` for the request's series. */
interface Locals {
  /** the gRPC code the error filter answered with (a 400 is INVALID_ARGUMENT or FAILED_PRECONDITION) */
  grpcCode?: number;
  /** set by the gRPC-web bridge: the call's method (`UserService/VerifyPhone`, or unknown) */
  grpcWebMethod?: string;
  /** set by the gRPC-web bridge: the status in the trailers */
  grpcWebCode?: number;
}

/**
 * `pv_requests_total` and `pv_request_duration_seconds`, by transport, method and code, for every
 * transport. Labels are bounded: the method is an RPC name (`UserService/VerifyPhone`) or, for a
 * REST route outside the API (probes, docs), `GET /livez`, never a path with ids; anything that
 * matched no route is `unknown`. The code is the gRPC status name on every transport.
 *
 * The children of each label combination are made once and kept, in maps keyed by the parts (no
 * string is built per request).
 */
export class RequestMetrics {
  private readonly total: Counter<(typeof LABELS)[number]>;
  private readonly duration: Histogram<(typeof LABELS)[number]>;
  private readonly children = new Map<Transport, Map<string, Children[]>>();
  /** "POST /v2/users/:userId/phone/verify" → "UserService/VerifyPhone", from the OpenAPI operations */
  private readonly restOperations = new Map<string, Map<string, string>>();

  constructor(metrics: Metrics) {
    this.total = new Counter({
      name: 'pv_requests_total',
      help: 'Requests answered, by transport (rest, grpc, grpc_web), method (RPC name) and gRPC status name',
      labelNames: LABELS,
      registers: [metrics.registry],
    });
    this.duration = new Histogram({
      name: 'pv_request_duration_seconds',
      help: 'Time from receiving a request to the end of its answer, by transport, method and gRPC status name',
      labelNames: LABELS,
      buckets: BUCKETS,
      registers: [metrics.registry],
    });
  }

  /** One answered request. */
  observe(transport: Transport, method: string, code: number, seconds: number): void {
    const child = this.childrenOf(transport, method, code);
    child.count.inc();
    child.duration.observe(seconds);
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
    if (locals?.grpcWebMethod !== undefined) {
      const code = aborted ? GrpcStatus.CANCELLED : (locals.grpcWebCode ?? GrpcStatus.UNKNOWN);
      return this.observe('grpc_web', locals.grpcWebMethod, code, seconds);
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

  private childrenOf(transport: Transport, method: string, code: number): Children {
    let byMethod = this.children.get(transport);
    if (!byMethod) this.children.set(transport, (byMethod = new Map()));
    let byCode = byMethod.get(method);
    if (!byCode) byMethod.set(method, (byCode = []));
    let child = byCode[code];
    if (!child) {
      const name = CODE_NAMES[code] ?? 'UNKNOWN';
      child = byCode[code] = {
        count: this.total.labels(transport, method, name),
        duration: this.duration.labels(transport, method, name),
      };
    }
    return child;
  }
}

/** For the error filter: the gRPC code of the REST answer (its HTTP status alone can be two codes). */
export function noteRestCode(res: Response, code: number): void {
  if (res.locals) (res.locals as Locals).grpcCode = code;
}

/** For the gRPC-web bridge: the call is one of ours, `UserService/VerifyPhone`. */
export function noteGrpcWebMethod(res: Response, method: string): void {
  if (res.locals) (res.locals as Locals).grpcWebMethod = method;
}

/** For the gRPC-web bridge: the status its trailers carry, so that the request counts as grpc_web. */
export function noteGrpcWebCode(res: Response, code: number): void {
  if (res.locals) (res.locals as Locals).grpcWebCode = code;
}

/** `/zitadel.user.v2.UserService/VerifyPhone` → `UserService/VerifyPhone`. */
export function rpcName(path: string): string {
  const slash = path.lastIndexOf('/');
  const service = path.slice(1, slash);
  return `${service.slice(service.lastIndexOf('.') + 1)}/${path.slice(slash + 1)}`;
}
