import { Enum, Field, MapField, Type } from 'protobufjs';
import type { FieldViolation } from '../errors/app-error';
import { floatOf, integerIn, isBase64, rfc3339Millis } from './proto-json-scalars';
import { textProblem } from './text-rules';

type Plain = Record<string, unknown>;
const SKIP = Symbol('skip');
type Read = unknown | typeof SKIP;

const RANGES: Record<string, [bigint, bigint, boolean]> = {
  // [min, max, written as a string]: 64-bit values stay exact as decimal strings (as proto-loader gives them)
  int32: [-(2n ** 31n), 2n ** 31n - 1n, false],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n, false],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n, false],
  uint32: [0n, 2n ** 32n - 1n, false],
  fixed32: [0n, 2n ** 32n - 1n, false],
  int64: [-(2n ** 63n), 2n ** 63n - 1n, true],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n, true],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n, true],
  uint64: [0n, 2n ** 64n - 1n, true],
  fixed64: [0n, 2n ** 64n - 1n, true],
};

const TIMESTAMP = '.google.protobuf.Timestamp';
interface Known {
  field: Field;
  /** the lowerCamelCase name it comes out under */
  name: string;
}
const byNames = new WeakMap<Type, Map<string, Known>>();

/** protoc's json_name: underscores dropped, the letter after each one upper-cased. */
function jsonNameOf(field: Field): string {
  const option = (field.options as Record<string, unknown> | undefined)?.json_name;
  return typeof option === 'string'
    ? option
    : field.name.replace(/_+([^_])?/g, (_, c?: string) => c?.toUpperCase() ?? '');
}

/** A message's fields by both names a client may use (snake_case as declared, lowerCamelCase). */
function fieldsByName(type: Type): Map<string, Known> {
  let byName = byNames.get(type);
  if (!byName) {
    byName = new Map();
    for (const field of type.fieldsArray) {
      const known = { field, name: jsonNameOf(field) };
      byName.set(field.name, known);
      byName.set(known.name, known);
    }
    byNames.set(type, byName);
  }
  return byName;
}

class Reader {
  readonly violations: FieldViolation[] = [];

  private fail(path: string, name: string, description: string): typeof SKIP {
    this.violations.push({ field: path, description: `${name} ${description}` });
    return SKIP;
  }

  message(type: Type, json: object, path: string): Plain {
    const out: Plain = {};
    const byName = fieldsByName(type);
    for (const [key, value] of Object.entries(json)) {
      const known = byName.get(key);
      if (!known) continue; // unknown fields are ignored (contract §4)
      const { field, name } = known;
      // both spellings sent: the camelCase one wins, whatever the order
      if (key !== name && Object.prototype.hasOwnProperty.call(json, name)) continue;
      // null is a field's default: the field is unset
      if (value === null || value === undefined) continue;
      const read = this.field(field, value, path ? `${path}.${name}` : name, name);
      if (read !== SKIP) out[name] = read;
    }
    return out;
  }

  private field(field: Field, value: unknown, path: string, name: string): Read {
    // a list or map with a bad element is left out whole, so that no index shifts
    if (field instanceof MapField) {
      if (typeof value !== 'object' || Array.isArray(value)) return this.fail(path, name, 'must be an object (a map)');
      const out: Plain = {};
      let bad = false;
      for (const [key, inner] of Object.entries(value as object)) {
        const problem = textProblem(key);
        const read = problem
          ? this.fail(`${path}.${key}`, name, `keys ${problem}`)
          : this.element(field, inner, `${path}.${key}`, name);
        if (read === SKIP) bad = true;
        else Object.defineProperty(out, key, { value: read, enumerable: true, writable: true, configurable: true });
      }
      return bad ? SKIP : out;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) return this.fail(path, name, 'must be a list');
      const out = value.map((inner: unknown, i) => this.element(field, inner, `${path}.${i}`, name));
      return out.includes(SKIP) ? SKIP : out;
    }
    return this.value(field, value, path, name);
  }

  private element(field: Field, value: unknown, path: string, name: string): Read {
    return value === null ? this.fail(path, name, 'must not hold null') : this.value(field, value, path, name);
  }

  private value(field: Field, value: unknown, path: string, name: string): Read {
    const type = field.resolvedType;
    if (type instanceof Type) {
      if (type.fullName === TIMESTAMP) return this.timestamp(value, path, name);
      if (type.fullName.startsWith('.google.protobuf.')) throw new Error(`no JSON reading for ${type.fullName}`);
      if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
        return this.fail(path, name, 'must be an object');
      }
      return this.message(type, value, path);
    }
    if (type instanceof Enum) return this.enumValue(type, value, path, name);
    switch (field.type) {
      case 'string': {
        if (typeof value !== 'string') return this.fail(path, name, 'must be a string');
        const problem = textProblem(value);
        return problem ? this.fail(path, name, problem) : value;
      }
      case 'bool':
        return typeof value === 'boolean' ? value : this.fail(path, name, 'must be a boolean');
      case 'bytes':
        // gRPC hands bytes over decoded
        if (ArrayBuffer.isView(value) || (typeof value === 'string' && isBase64(value))) return value;
        return this.fail(path, name, 'must be base64-encoded bytes');
      case 'double':
      case 'float': {
        const n = floatOf(value);
        return n === undefined ? this.fail(path, name, 'must be a number') : n;
      }
      default: {
        const [min, max, asString] = RANGES[field.type];
        const n = integerIn(value, min, max);
        if (n === undefined) return this.fail(path, name, `must be an integer from ${min} to ${max}`);
        return asString ? n.toString() : Number(n);
      }
    }
  }

  private timestamp(value: unknown, path: string, name: string): Read {
    const ms = typeof value === 'string' ? rfc3339Millis(value) : undefined;
    if (ms === undefined)
      return this.fail(path, name, 'must be a time from year 1 to 9999, in RFC 3339 (e.g. 2030-01-01T00:00:00Z)');
    return new Date(ms).toISOString();
  }

  /** By name, or by number (read as its name when it has one). Unknown names are left to the DTO's check. */
  private enumValue(type: Enum, value: unknown, path: string, name: string): Read {
    if (typeof value === 'string') return value;
    const n = typeof value === 'number' ? integerIn(value, -(2n ** 31n), 2n ** 31n - 1n) : undefined;
    if (n === undefined) return this.fail(path, name, 'must be a value name or number');
    return type.valuesById[Number(n)] ?? Number(n);
  }
}

/**
 * Reads a request object by the protobuf JSON mapping of its message, as strictly as the mapping
 * is: every known field must have its JSON type (a message an object, a list a list, bytes base64,
 * a Timestamp RFC 3339, …), null means unset, unknown fields are dropped, and names come out in
 * lowerCamelCase. Every string is held to the text rule (text-rules.ts). What comes out holds only
 * the message's fields, each well-typed; what was wrong is listed by field path and left out.
 */
export function readProtoJson(type: Type, json: object): { value: Plain; violations: FieldViolation[] } {
  const reader = new Reader();
  const value = reader.message(type, json, '');
  return { value, violations: reader.violations };
}
