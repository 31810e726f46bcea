import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { FieldViolation } from '../errors/app-error';
import { Errors } from '../errors/errors';
import { camelizeKeys } from './proto-json-input';

function violations(errors: ValidationError[], prefix = ''): FieldViolation[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const descriptions = Object.values(error.constraints ?? {});
    // one entry per violated field (contract §6), however many of its rules failed
    const own = descriptions.length ? [{ field, description: descriptions.join('; ') }] : [];
    return [...own, ...violations(error.children ?? [], field)];
  });
}

/**
 * The single validation step every transport passes through: protobuf-JSON names normalised,
 * unknown fields dropped, every violated field reported in one INVALID_ARGUMENT error.
 */
export function validateInput<T extends object>(type: new () => T, raw: unknown): T {
  const plain = camelizeKeys(raw ?? {});
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    throw Errors.validation([{ field: 'body', description: 'must be a JSON object' }]);
  }
  const instance = plainToInstance(type, plain, { excludeExtraneousValues: false });
  const errors = validateSync(instance, { whitelist: true, forbidUnknownValues: false });
  if (errors.length > 0) throw Errors.validation(violations(errors));
  return instance;
}
