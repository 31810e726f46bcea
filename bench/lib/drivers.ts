import autocannon from 'autocannon';
import type { Client, Metadata, ServiceError } from '@grpc/grpc-js';
import { Agent, request } from 'node:http';
import { LatencyRecorder, RunMeasurement, Tally } from './stats';

/**
 * Three load drivers with the same contract: `connections` requests in flight for `durationMs`,
 * each request taken from `next()` (undefined = the scenario's prepared users are used up, which
 * ends the run early), each answer judged by `check` (undefined = as expected, else what was wrong).
 */
export interface DriveOptions {
  connections: number;
  durationMs: number;
  /**
   * Unmeasured time first, on the same connections. The measured part starts when this time has
   * passed AND every connection (or worker) has had an answer, so that neither connection set-up
   * nor a cold first request is in it; answers before that are neither counted nor timed.
   */
  warmupMs: number;
  /** Called once when the measured part starts. */
  onMeasureStart?: () => void;
}

/** The measured part starts anyway this long after the warm-up, even if a connection never answered. */
const MAX_EXTRA_WARMUP_MS = 30_000;

/** When the measured part of a run starts (see DriveOptions.warmupMs). */
class Phase {
  from = Infinity;
  private warm = false;
  private readonly answered = new Set<unknown>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly options: DriveOptions,
    private readonly onStart?: () => void,
  ) {
    const warmed = () => {
      this.warm = true;
      this.maybeStart();
    };
    if (options.warmupMs <= 0) this.warm = true;
    else this.timers.push(setTimeout(warmed, options.warmupMs));
    this.timers.push(setTimeout(() => this.begin(), options.warmupMs + MAX_EXTRA_WARMUP_MS));
  }

  get started(): boolean {
    return Number.isFinite(this.from);
  }

  /** Records that `who` (a connection or worker) had an answer; true when that answer is measured. */
  answer(who: unknown, now: number): boolean {
    if (this.started) return now >= this.from;
    this.answered.add(who);
    this.maybeStart();
    return false;
  }

  done(): void {
    for (const timer of this.timers) clearTimeout(timer);
  }

  private maybeStart(): void {
    if (!this.started && this.warm && this.answered.size >= this.options.connections) this.begin();
  }

  private begin(): void {
    if (this.started) return;
    this.from = performance.now();
    this.options.onMeasureStart?.();
    this.onStart?.();
  }
}

export interface HttpCall {
  method: 'GET' | 'POST';
  path: string;
  body?: string | Buffer;
  contentType?: string;
}

const REQUEST_TIMEOUT_MS = 10_000;

function measurement(tally: Tally, latencies: LatencyRecorder, elapsedMs: number, stoppedEarly?: string) {
  const result: RunMeasurement = {
    ok: tally.ok,
    errors: tally.errors,
    errorKinds: tally.kinds(),
    elapsedMs,
    latency: latencies.summary(),
  };
  if (stoppedEarly) result.stoppedEarly = stoppedEarly;
  return result;
}

/** REST through autocannon (HTTP/1.1 keep-alive, one connection per request in flight). */
export function driveAutocannon(
  port: number,
  headers: Record<string, string>,
  next: () => HttpCall | undefined,
  check: (status: number, body: string) => string | undefined,
  options: DriveOptions,
): Promise<RunMeasurement> {
  const tally = new Tally();
  const latencies = new LatencyRecorder();
  let exhausted = false;
  let instance: ReturnType<typeof autocannon> | undefined;
  // autocannon's own duration is only a safety net: the run is stopped `durationMs` after the measured part starts
  const phase = new Phase(options, () => setTimeout(() => instance?.stop(), options.durationMs).unref());
  return new Promise((resolve, reject) => {
    instance = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: options.connections,
        duration: (options.warmupMs + options.durationMs + MAX_EXTRA_WARMUP_MS) / 1000 + 5,
        timeout: REQUEST_TIMEOUT_MS / 1000,
        headers,
        requests: [
          {
            setupRequest: (req, context) => {
              const call = exhausted ? undefined : next();
              if (!call) {
                // autocannon cannot skip a request: send a harmless one, ignore its answer, stop
                if (!exhausted) setImmediate(() => instance?.stop());
                exhausted = true;
                context.ignore = true;
                return { ...req, method: 'GET', path: '/healthz', body: undefined };
              }
              context.ignore = false;
              return {
                ...req,
                method: call.method,
                path: call.path,
                body: call.body,
                headers: call.contentType ? { ...req.headers, 'content-type': call.contentType } : req.headers,
              };
            },
            onResponse: (status, body, context) => {
              // the 'response' event below has already told the phase about this answer
              if (context.ignore || !phase.started || performance.now() < phase.from) return;
              const problem = check(status, body);
              if (problem === undefined) tally.success();
              else tally.failure(problem);
            },
          },
        ],
      },
      (error) => {
        phase.done();
        if (error) return reject(error);
        const elapsed = phase.started ? Math.max(1, performance.now() - phase.from) : 1;
        resolve(measurement(tally, latencies, elapsed, exhausted ? 'prepared users used up' : undefined));
      },
    );
    // connection errors and timeouts (10 s) of the measured part count as errors
    instance.on('reqError', (error: Error) => {
      if (phase.started && performance.now() >= phase.from) tally.failure(`connection: ${error.message}`);
    });
    instance.on('response', (client: unknown, _status: number, _bytes: number, responseTime: number) => {
      if (phase.answer(client, performance.now()) && !exhausted) latencies.record(responseTime);
    });
  });
}

/** A fixed number of workers, each with one call in flight at a time, until the measured time is up. */
async function workerLoop(
  options: DriveOptions,
  call: (measured: (now: number) => boolean) => Promise<boolean>,
): Promise<{ elapsedMs: number; exhausted: boolean }> {
  const phase = new Phase(options);
  let exhausted = false;
  const worker = async (_: unknown, index: number) => {
    const measured = (now: number) => phase.answer(index, now);
    while (!exhausted && !(phase.started && performance.now() >= phase.from + options.durationMs)) {
      if (!(await call(measured))) exhausted = true;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, worker));
  } finally {
    phase.done();
  }
  return { elapsedMs: phase.started ? Math.max(1, performance.now() - phase.from) : 1, exhausted };
}

export interface GrpcCall {
  method: string;
  request: object;
}

/** gRPC through a real @grpc/grpc-js client (one HTTP/2 channel, `connections` calls multiplexed on it). */
export async function driveGrpc(
  client: Client,
  metadata: Metadata,
  next: () => GrpcCall | undefined,
  check: (error: ServiceError | null) => string | undefined,
  options: DriveOptions,
): Promise<RunMeasurement> {
  const tally = new Tally();
  const latencies = new LatencyRecorder();
  const methods = client as unknown as Record<
    string,
    (req: object, md: Metadata, opts: object, cb: (error: ServiceError | null) => void) => void
  >;
  // grpc-js's client captures a stack trace for every call and formats it into the error of every
  // failed one: for the wrong-code rows that made the load generator, not the server, the limit
  // (the server waited for calls a third of the time). No stack traces while the loop runs.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const run = await workerLoop(options, async (measured) => {
    const call = next();
    if (!call) return false;
    const t0 = performance.now();
    const error = await new Promise<ServiceError | null>((resolve) =>
      methods[call.method].call(client, call.request, metadata, { deadline: Date.now() + REQUEST_TIMEOUT_MS }, resolve),
    );
    const t1 = performance.now();
    if (!measured(t1)) return true;
    latencies.record(t1 - t0);
    const problem = check(error);
    if (problem === undefined) tally.success();
    else tally.failure(problem);
    return true;
  }).finally(() => (Error.stackTraceLimit = stackTraceLimit));
  return measurement(tally, latencies, run.elapsedMs, run.exhausted ? 'prepared users used up' : undefined);
}

/** Plain HTTP/1.1 keep-alive through node:http (used for gRPC-web, and for the Nest ceiling it is compared with). */
export async function driveHttpLoop(
  port: number,
  headers: Record<string, string>,
  next: () => HttpCall | undefined,
  check: (status: number, responseHeaders: Record<string, unknown>, body: Buffer) => string | undefined,
  options: DriveOptions,
): Promise<RunMeasurement> {
  const tally = new Tally();
  const latencies = new LatencyRecorder();
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const send = (call: HttpCall) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const body = call.body === undefined ? undefined : Buffer.from(call.body);
      const req = request(
        {
          host: '127.0.0.1',
          port,
          agent,
          method: call.method,
          path: call.path,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            ...headers,
            ...(call.contentType ? { 'content-type': call.contentType } : {}),
            ...(body ? { 'content-length': String(body.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  try {
    const run = await workerLoop(options, async (measured) => {
      const call = next();
      if (!call) return false;
      const t0 = performance.now();
      try {
        const answer = await send(call);
        const t1 = performance.now();
        if (!measured(t1)) return true;
        latencies.record(t1 - t0);
        const problem = check(answer.status, answer.headers, answer.body);
        if (problem === undefined) tally.success();
        else tally.failure(problem);
      } catch (error) {
        const t1 = performance.now();
        if (!measured(t1)) return true;
        latencies.record(t1 - t0);
        tally.failure(`connection error: ${(error as Error).message}`);
      }
      return true;
    });
    return measurement(tally, latencies, run.elapsedMs, run.exhausted ? 'prepared users used up' : undefined);
  } finally {
    agent.destroy();
  }
}
