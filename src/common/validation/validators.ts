import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';

/** Length in Unicode code points (what ZITADEL's "runes" count), not UTF-16 units. */
export function CodePointLength(min: number, max: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'codePointLength',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: (args: ValidationArguments) =>
          min > 0
            ? `${args.property} must be between ${min} and ${max} characters long`
            : `${args.property} must be at most ${max} characters long`,
        ...options,
      },
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'string') return false;
          const length = [...value].length;
          return length >= min && length <= max;
        },
      },
    });
}

/** A member of a protobuf oneof: at most one of the group may be set. */
export function OneOf(group: readonly string[], options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'oneOf',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: () => `only one of ${group.join(', ')} may be set`,
        ...options,
      },
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          if (value === undefined || value === null) return true;
          const object = args.object as Record<string, unknown>;
          return group.filter((name) => object[name] !== undefined && object[name] !== null).length <= 1;
        },
      },
    });
}
