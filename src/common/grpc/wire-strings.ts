import { isUtf8 } from 'node:buffer';
import { Reader, Type } from 'protobufjs';

const LENGTH_DELIMITED = 2;

function hasStrings(type: Type, seen = new Set<Type>()): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  return type.fieldsArray.some(
    (f) =>
      f.type === 'string' ||
      (f.map && (f as { keyType?: string }).keyType === 'string') ||
      (f.resolvedType instanceof Type && hasStrings(f.resolvedType, seen)),
  );
}

/** Whether every string field (at any depth, map keys and values too) of an encoded message is valid UTF-8. */
function stringsValid(type: Type, bytes: Uint8Array): boolean {
  const reader = Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = type.fieldsById[tag >>> 3];
    if (!field || (tag & 7) !== LENGTH_DELIMITED) {
      reader.skipType(tag & 7);
      continue;
    }
    const value = reader.bytes();
    if (field.map) {
      if (!entryValid(field.resolvedType, (field as { keyType?: string }).keyType, field.type, value)) return false;
    } else if (field.type === 'string') {
      if (!isUtf8(value)) return false;
    } else if (field.resolvedType instanceof Type && !stringsValid(field.resolvedType, value)) return false;
  }
  return true;
}

function entryValid(valueType: unknown, keyType: string | undefined, type: string, bytes: Uint8Array): boolean {
  const reader = Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const id = tag >>> 3;
    if ((tag & 7) !== LENGTH_DELIMITED) {
      reader.skipType(tag & 7);
      continue;
    }
    const value = reader.bytes();
    const kind = id === 1 ? keyType : id === 2 ? type : undefined;
    if (kind === 'string' && !isUtf8(value)) return false;
    if (id === 2 && valueType instanceof Type && !stringsValid(valueType, value)) return false;
  }
  return true;
}

/**
 * protobuf requires proto3 strings to be UTF-8 and Go's decoder (ZITADEL's) refuses a message
 * whose strings are not; protobufjs decodes such bytes into replacement characters or lone
 * surrogates instead. The check for a request type, or undefined when it holds no string.
 */
export function utf8Check(type: Type | undefined): ((bytes: Uint8Array) => boolean) | undefined {
  if (!type || !hasStrings(type)) return undefined;
  return (bytes) => stringsValid(type, bytes);
}
