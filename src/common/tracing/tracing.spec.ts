import { createTracing, DISABLED } from './tracing';

describe(createTracing.name, () => {
  it('is off without an OTLP endpoint, or when the SDK or the exporter is turned off', () => {
    expect(createTracing({})).toBe(DISABLED);
    expect(createTracing({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBe(DISABLED);
    expect(createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' })).toBe(
      DISABLED,
    );
    expect(createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_TRACES_EXPORTER: 'none' })).toBe(
      DISABLED,
    );
  });

  it('names the setting it cannot follow', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' };
    expect(() => createTracing({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL/);
    expect(() => createTracing({ ...on, OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/);
    expect(() => createTracing({ ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(
      /OTEL_TRACES_SAMPLER_ARG/,
    );
  });

  it('is on with an endpoint, with the default protocol (http/protobuf) and sampler', async () => {
    const tracing = createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1/' });
    expect(tracing.enabled).toBe(true);
    await tracing.shutdown();
  });
});
