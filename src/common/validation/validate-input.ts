import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, ValidationError, ValidationTypes } from 'class-validator';
import { FieldViolation } from '../errors/app-error';
import { Errors } from '../errors/errors';
import { readProtoJson } from './proto-json-input';
import { protoMessageOf } from './proto-message';

/** Per DTO class, the properties that may be left out (IsOptional, ValidateIf): their own rules say what is wrong. */
const conditionalProperties = new WeakMap<object, Set<string>>();

function mayBeLeftOut(target: object | undefined, property: string): boolean {
  if (!target) return true;
  const type = target.constructor;
  let names = conditionalProperties.get(type);
  if (!names) {
    const rules = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false);
    names = new Set(rules.filter((r) => r.type === ValidationTypes.CONDITIONAL_VALIDATION).map((r) => r.propertyName));
    conditionalProperties.set(type, names);
  }
  return names.has(property);
}

/** Unset in proto3 terms: gRPC cannot tell an empty string from a missing one, so neither may REST. */
const unset = (value: unknown) => value === undefined || value === null || value === '';

function violations(errors: ValidationError[], prefix = ''): FieldViolation[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const descriptions = Object.values(error.constraints ?? {});
    const required = descriptions.length > 0 && unset(error.value) && !mayBeLeftOut(error.target, error.property);
    // one entry per violated field (contract §6), however many of its rules failed
    const description = required ? `${error.property} is required` : descriptions.join('; ');
    const own = descriptions.length ? [{ field, description }] : [];
    return [...own, ...violations(error.children ?? [], field)];
  });
}

/** Whether one field path is the other or lies inside it. */
const related = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);

/**
 * The single validation step every transport passes through: the request read by its protobuf
 * message's JSON mapping (names normalised, JSON types and the text rule checked, unknown fields
 * dropped), then the DTO's rules on what was well-formed; every violated field reported in one
 * INVALID_ARGUMENT error. The DTO's rules never see a malformed value (class-validator's e-mail
 * check throws on an unpaired surrogate), and say nothing more about a field the reading refused.
 */
export function validateInput<T extends object>(type: new () => T, raw: unknown): T {
  const message = protoMessageOf(type);
  const input = raw ?? {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw Errors.validation([{ field: 'body', description: 'must be a JSON object' }]);
  }
  const read = readProtoJson(message, input);
  const instance = plainToInstance(type, read.value, { excludeExtraneousValues: false });
  const errors = validateSync(instance, { whitelist: true, forbidUnknownValues: false });
  const ruled = violations(errors).filter((v) => !read.violations.some((m) => related(m.field, v.field)));
  const all = [...read.violations, ...ruled];
  if (all.length > 0) throw Errors.validation(all);
  return instance;
}
