const SNAKE = /_([a-z0-9])/g;

/** Protobuf JSON accepts both `user_id` and `userId`: input is normalised to lowerCamelCase. */
export function camelizeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelizeKeys);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    const camel = key.replace(SNAKE, (_, c: string) => c.toUpperCase());
    // when both spellings are sent, the camelCase one wins, whatever the order
    if (camel !== key && camel in (value as object)) continue;
    out[camel] = camelizeKeys(inner);
  }
  return out;
}
