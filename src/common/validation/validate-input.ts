import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { FieldViolation } from '../errors/app-error';
import { Errors } from '../errors/errors';
import { readProtoJson } from './proto-json-input';
import { protoMessageOf } from './proto-message';

function violations(errors: ValidationError[], prefix = ''): FieldViolation[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const descriptions = Object.values(error.constraints ?? {});
    // one entry per violated field (contract §6), however many of its rules failed
    const own = descriptions.length ? [{ field, description: descriptions.join('; ') }] : [];
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
