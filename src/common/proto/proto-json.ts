/**
 * Responses rendered by the adapters themselves, so that no global interceptor (and no RxJS) runs
 * (ADR 0020). Protobuf JSON: Timestamps as RFC 3339, default values left out, empty messages kept.
 */
export function toProtoJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toProtoJson);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (isDefault(inner)) continue;
    out[key] = toProtoJson(inner);
  }
  return out;
}

function isDefault(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === false ||
    value === 0 ||
    (Array.isArray(value) && value.length === 0)
  );
}

/** The same response for grpc-js / proto-loader: Timestamps become {seconds, nanos}. */
export function toProtoMessage(value: unknown): unknown {
  if (value instanceof Date) {
    const ms = value.getTime();
    const seconds = Math.floor(ms / 1000);
    return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
  }
  if (Array.isArray(value)) return value.map(toProtoMessage);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner === undefined || inner === null || inner === '') continue; // unset, also for proto3 `optional`
    out[key] = toProtoMessage(inner);
  }
  return out;
}
