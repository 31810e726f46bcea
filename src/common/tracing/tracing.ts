import type { Attributes, Context, Span, SpanKind, Tracer } from '@opentelemetry/api';
import { AsyncLocalStorage } from 'node:async_hooks';

/** What a span's context holds: the span and the tracer its children come from. */
interface Active {
  tracer: Tracer;
  context: Context;
}

/**
 * Made only when tracing is on: an AsyncLocalStorage in use hooks every promise on Node 20, which
 * the hot path must not pay for when nobody collects traces.
 */
let storage: AsyncLocalStorage<Active> | undefined;

/** The OpenTelemetry packages, loaded only when tracing is on (nothing is required when it is off). */
type Api = typeof import('@opentelemetry/api');
let api: Api | undefined;

/**
 * One app's tracing: its own tracer provider (never registered globally, so several apps in one
 * process each export to their own endpoint). `DISABLED` when no OTLP endpoint is configured.
 */
export class Tracing {
  constructor(
    readonly tracer?: Tracer,
    private readonly provider?: { forceFlush(): Promise<void>; shutdown(): Promise<void> },
  ) {}

  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /** Starts a server span (a request), its parent the caller's W3C `traceparent` if it sent one. */
  startServer(name: string, attributes: Attributes, carrier: Record<string, unknown>): TraceScope | undefined {
    if (!this.tracer || !api || !storage) return undefined;
    const parent = api.propagation.extract(api.ROOT_CONTEXT, carrier, TEXT_MAP_GETTER);
    const span = this.tracer.startSpan(name, { kind: api.SpanKind.SERVER, attributes }, parent);
    return new TraceScope(this.tracer, span, api.trace.setSpan(parent, span));
  }

  /** Starts a root span (background work: the outbox delivering an SMS). */
  inRoot<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (!this.tracer || !api || !storage) return fn();
    return storage.run({ tracer: this.tracer, context: api.ROOT_CONTEXT }, () =>
      inSpan(name, api!.SpanKind.INTERNAL, {}, fn),
    );
  }

  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }

  /** Nest calls it on app.close(): the spans still batched are sent. */
  onApplicationShutdown(): Promise<void> {
    return this.shutdown();
  }
}

export const DISABLED = new Tracing();

/** A request's span and the context its children are made in. */
export class TraceScope {
  /** The route named outside Express's router (gRPC-web and Connect: the method's path). */
  route?: string;

  constructor(
    private readonly tracer: Tracer,
    readonly span: Span | undefined,
    readonly context: Context,
  ) {}

  get traceId(): string | undefined {
    return this.span?.spanContext().traceId;
  }

  /** Runs `fn` with this span as the parent of the spans it makes. */
  run<T>(fn: () => T): T {
    return storage ? storage.run({ tracer: this.tracer, context: this.context }, fn) : fn();
  }

  /** Ends the span with the HTTP status and/or the gRPC status code. */
  end(attributes: Attributes, error: boolean): void {
    if (!this.span || !api) return;
    this.span.setAttributes(attributes);
    if (error) this.span.setStatus({ code: api.SpanStatusCode.ERROR });
    this.span.end();
  }
}

const TEXT_MAP_GETTER = {
  keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
  get: (carrier: Record<string, unknown>, key: string) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : Array.isArray(value) ? (value as string[]) : undefined;
  },
};

/**
 * Runs `fn` in a child span of the current request's span, or plainly when there is none (tracing
 * off, or work outside a request). Callers give only bounded attributes: never statement values,
 * URLs with queries, headers, codes, tokens or numbers.
 */
export function inSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span?: Span) => Promise<T>,
): Promise<T> {
  const active = storage?.getStore();
  if (!active || !api) return fn();
  const span = active.tracer.startSpan(name, { kind, attributes }, active.context);
  const context = api.trace.setSpan(active.context, span);
  const failed = (error: unknown) => {
    span.setStatus({ code: api!.SpanStatusCode.ERROR, message: (error as Error | undefined)?.name });
    span.end();
    throw error;
  };
  try {
    return storage!
      .run({ tracer: active.tracer, context }, () => fn(span))
      .then((value) => (span.end(), value), failed);
  } catch (error) {
    return failed(error);
  }
}

/** Whether there is a span to be the parent of new ones (so callers can skip preparing attributes). */
export function tracingActive(): boolean {
  return storage?.getStore() !== undefined;
}

/** `fn` bound to the current span, for work queued now and run later from another request's turn. */
export function bound<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  const active = storage?.getStore();
  return active ? (...args: A) => storage!.run(active, () => fn(...args)) : fn;
}

/** Span kinds without loading the API when tracing is off (the values are OpenTelemetry's). */
export const KIND = { INTERNAL: 0, SERVER: 1, CLIENT: 2 } as const;

const OTLP_TRACES = '/v1/traces';

/** Tracing as the standard OTEL_* variables say: on when an OTLP endpoint is set and nothing turns it off. */
export function createTracing(env: Record<string, string | undefined>): Tracing {
  const endpoint = tracesEndpoint(env);
  if (!endpoint || env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return DISABLED;
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (got "${protocol}")`);
  }
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  api = require('@opentelemetry/api') as Api;
  const { W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const sdk = require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { OTLPTraceExporter } = (
    protocol === 'http/json'
      ? require('@opentelemetry/exporter-trace-otlp-http')
      : require('@opentelemetry/exporter-trace-otlp-proto')
  ) as typeof import('@opentelemetry/exporter-trace-otlp-http');
  /* eslint-enable @typescript-eslint/no-require-imports */
  // the propagator is stateless; the W3C one is what every other service speaks
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  storage ??= new AsyncLocalStorage<Active>();
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({
      ...resourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES),
      'service.name': env.OTEL_SERVICE_NAME || 'phone-verify',
    }),
    sampler: sampler(sdk, env.OTEL_TRACES_SAMPLER, env.OTEL_TRACES_SAMPLER_ARG),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint }) })],
  });
  return new Tracing(provider.getTracer('phone-verify'), provider);
}

type Sdk = typeof import('@opentelemetry/sdk-trace');

/** OTEL_TRACES_SAMPLER as the specification lists it (this SDK package no longer reads it). */
function sampler(sdk: Sdk, name = 'parentbased_always_on', arg?: string) {
  const ratio = arg === undefined || arg === '' ? 1 : Number(arg);
  if (!(ratio >= 0 && ratio <= 1))
    throw new Error(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 (got "${arg}")`);
  const roots: Record<string, () => import('@opentelemetry/sdk-trace').Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => new sdk.TraceIdRatioBasedSampler(ratio),
  };
  const parentBased = /^parentbased_(.*)$/.exec(name)?.[1];
  const root = roots[parentBased ?? name];
  if (!root) {
    throw new Error(
      `OTEL_TRACES_SAMPLER must be always_on, always_off, traceidratio or parentbased_ one of them (got "${name}")`,
    );
  }
  return parentBased ? new sdk.ParentBasedSampler({ root: root() }) : root();
}

function tracesEndpoint(env: Record<string, string | undefined>): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? base.replace(/\/+$/, '') + OTLP_TRACES : undefined;
}

/** OTEL_RESOURCE_ATTRIBUTES: `key=value` pairs, comma-separated, values percent-encoded. */
function resourceAttributes(text: string | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    try {
      attributes[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      // a malformed pair is skipped, as the SDK does
    }
  }
  return attributes;
}
