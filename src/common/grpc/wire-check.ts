import { isUtf8 } from 'node:buffer';
import { Field, MapField, Reader, Type } from 'protobufjs';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

const SCALAR_WIRE: Record<string, number> = {
  double: FIXED64,
  fixed64: FIXED64,
  sfixed64: FIXED64,
  float: FIXED32,
  fixed32: FIXED32,
  sfixed32: FIXED32,
  string: LENGTH_DELIMITED,
  bytes: LENGTH_DELIMITED,
};

/** The wire type a field's values are encoded with (a repeated number may also come packed). */
function wireTypeOf(field: Field): number {
  if (field.map || field.resolvedType instanceof Type) return LENGTH_DELIMITED;
  return SCALAR_WIRE[field.type] ?? VARINT; // ints, bool and enums are varints
}

/**
 * Whether an encoded message is what its type says, at every depth (wire types, UTF-8): protobufjs
 * decodes either mistake into garbage, where Go's decoder (ZITADEL's) refuses both.
 */
function wellFormed(type: Type, bytes: Uint8Array): boolean {
  const reader = Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const wire = tag & 7;
    const field = type.fieldsById[tag >>> 3];
    if (!field) {
      reader.skipType(wire);
      continue;
    }
    const expected = wireTypeOf(field);
    if (wire !== expected && !(field.repeated && wire === LENGTH_DELIMITED && expected !== LENGTH_DELIMITED)) {
      return false;
    }
    if (wire !== LENGTH_DELIMITED) {
      reader.skipType(wire);
      continue;
    }
    const value = reader.bytes();
    if (field.map) {
      if (!entryWellFormed(field, value)) return false;
    } else if (field.type === 'string') {
      if (!isUtf8(value)) return false;
    } else if (field.resolvedType instanceof Type && !wellFormed(field.resolvedType, value)) return false;
  }
  return true;
}

/** A map entry: its key (field 1) and its value (field 2), each with its own wire type. */
function entryWellFormed(field: Field, bytes: Uint8Array): boolean {
  const keyType = (field as unknown as MapField).keyType;
  const valueType = field.resolvedType instanceof Type ? field.resolvedType : undefined;
  const reader = Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const wire = tag & 7;
    const id = tag >>> 3;
    const kind = id === 1 ? keyType : id === 2 ? field.type : undefined;
    if (kind === undefined) {
      reader.skipType(wire);
      continue;
    }
    const expected = id === 2 && valueType ? LENGTH_DELIMITED : (SCALAR_WIRE[kind] ?? VARINT);
    if (wire !== expected) return false;
    if (wire !== LENGTH_DELIMITED) {
      reader.skipType(wire);
      continue;
    }
    const value = reader.bytes();
    if (kind === 'string' && !isUtf8(value)) return false;
    if (id === 2 && valueType && !wellFormed(valueType, value)) return false;
  }
  return true;
}

/** The check for a request type (undefined when there is no such type). */
export function wireCheck(type: Type | undefined): ((bytes: Uint8Array) => boolean) | undefined {
  if (!type) return undefined;
  return (bytes) => {
    try {
      return wellFormed(type, bytes);
    } catch {
      return false; // cut short: the decoder refuses it too
    }
  };
}
