import { registerDecorator, ValidationArguments } from 'class-validator';

/**
 * The ids a caller may choose (CreateUser/AddHumanUser `userId`, AddOrganization
 * `organizationId`): 1–200 of `A–Z a–z 0–9 _ -`, starting with a letter or a digit, and none of
 * the reserved words (in any case), which name the instance, the system or a REST path segment.
 */
export const CHOSEN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$/;
export const RESERVED_IDS: readonly string[] = ['instance', 'system', 'iam', 'me', 'new', 'human'];
export const CHOSEN_ID_RULE = `A-Z, a-z, 0-9, "_" and "-", first a letter or digit; reserved: ${RESERVED_IDS.join(', ')}`;

/** Why `id` may not be chosen, or undefined when it may. */
export function chosenIdProblem(id: string): string | undefined {
  if (!CHOSEN_ID.test(id)) return 'must be 1 to 200 of A-Z, a-z, 0-9, "_" and "-", starting with a letter or digit';
  if (RESERVED_IDS.includes(id.toLowerCase())) return `is reserved (${RESERVED_IDS.join(', ')})`;
  return undefined;
}

/** class-validator rule for a caller-chosen id, so every transport refuses it with the same field violation. */
export function ChosenId(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'chosenId',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message: (args: ValidationArguments) =>
          `${args.property} ${chosenIdProblem(String(args.value)) ?? 'is not a valid id'}`,
      },
      validator: {
        validate: (value: unknown) => typeof value === 'string' && chosenIdProblem(value) === undefined,
      },
    });
}
