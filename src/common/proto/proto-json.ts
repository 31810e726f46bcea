/**
 * Responses are rendered by the transport adapters: REST controllers return `toProtoJson(…)`,
 * gRPC controllers `toProtoMessage(…)`. (A global interceptor did this before; with none, Nest
 * runs an HTTP handler without RxJS, whose Observable pipeline was 8–12 % of a request's CPU in
 * the profile.)
 *
 * Protobuf JSON mapping for responses: Timestamps as RFC 3339, default values (empty strings,
 * false, 0, empty lists, undefined/null) left out, messages kept even when empty (`{}`).
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
