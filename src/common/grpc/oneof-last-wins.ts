import { OneOf, Reader, Type } from 'protobufjs';
import { requestTypeOf } from './proto-root';

type Decoded = Record<string, unknown>;
type Fix = (decoded: Decoded, bytes: Uint8Array) => void;
interface Nested {
  type: Type;
  bytes: Uint8Array;
  value: unknown;
}

function hasOneofs(type: Type, seen = new Set<Type>()): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  if (type.oneofsArray.length > 0) return true;
  return type.fieldsArray.some((f) => !f.map && f.resolvedType instanceof Type && hasOneofs(f.resolvedType, seen));
}

/**
 * Makes a decoded message keep only the member of each oneof that came last on the wire. That is
 * protobuf's rule for a oneof set more than once (Go, and so ZITADEL, apply it), while protobufjs
 * keeps every member it read, which the validation would then refuse as "only one of … may be set".
 */
function fixIn(type: Type, bytes: Uint8Array, target: Decoded): void {
  const reader = Reader.create(bytes);
  const last = new Map<OneOf, string>();
  // nested messages that have oneofs: each element of a repeated field, and of a singular field
  // the last occurrence (the one protobufjs keeps)
  const elements: Nested[] = [];
  const singular = new Map<string, Nested>();
  const counts = new Map<string, number>();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = type.fieldsById[tag >>> 3];
    if (field?.partOf) last.set(field.partOf, field.name);
    const inner = field && !field.map && field.resolvedType instanceof Type ? field.resolvedType : undefined;
    if ((tag & 7) !== 2 || !inner || !hasOneofs(inner)) {
      reader.skipType(tag & 7);
      continue;
    }
    const sub = reader.bytes();
    if (field.repeated) {
      const n = counts.get(field.name) ?? 0;
      counts.set(field.name, n + 1);
      elements.push({ type: inner, bytes: sub, value: (target[field.name] as unknown[] | undefined)?.[n] });
    } else {
      singular.set(field.name, { type: inner, bytes: sub, value: target[field.name] });
    }
  }
  for (const { type: inner, bytes: sub, value } of [...elements, ...singular.values()]) {
    if (value && typeof value === 'object') fixIn(inner, sub, value as Decoded);
  }
  for (const [oneof, winner] of last) {
    for (const member of oneof.oneof) if (member !== winner) delete target[member];
    target[oneof.name] = winner;
  }
}

/** The fix for a method's request type, or undefined when the type has no oneof at any depth. */
export function lastOneofWins(service: string, method: string): Fix | undefined {
  const type = requestTypeOf(service, method);
  if (!type || !hasOneofs(type)) return undefined;
  return (decoded, bytes) => fixIn(type, bytes, decoded);
}
