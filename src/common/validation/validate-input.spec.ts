import { AppError, FieldViolation } from '../errors/app-error';
import { VerifyPhoneRequestDto } from '../../phone/dto/phone-requests.dto';
import { AddHumanUserDto } from '../../users/dto/add-human-user.dto';
import { CreateUserDto } from '../../users/dto/create-user.dto';
import { validateInput } from './validate-input';

function violationsOf(type: new () => object, raw: unknown): FieldViolation[] {
  try {
    validateInput(type, raw);
  } catch (error) {
    return (error as AppError).extras.fieldViolations ?? [];
  }
  throw new Error('no violation');
}

describe(validateInput.name, () => {
  it.each([
    ['missing', { userId: '1' }],
    ['null', { userId: '1', verificationCode: null }],
    ['empty (what gRPC sends for a missing string)', { userId: '1', verificationCode: '' }],
  ])('says a required field is required when it is %s', (_, raw) => {
    expect(violationsOf(VerifyPhoneRequestDto, raw)).toEqual([
      { field: 'verificationCode', description: 'verificationCode is required' },
    ]);
  });

  it('keeps the rule for a required field that is present but wrong', () => {
    expect(violationsOf(VerifyPhoneRequestDto, { userId: '1', verificationCode: '1'.repeat(21) })).toEqual([
      { field: 'verificationCode', description: 'verificationCode must be between 1 and 20 characters long' },
    ]);
  });

  it('names required fields inside a nested message by their path', () => {
    expect(violationsOf(AddHumanUserDto, { profile: { givenName: 'Minnie' }, email: {} })).toEqual([
      { field: 'profile.familyName', description: 'familyName is required' },
      { field: 'email.email', description: 'email is required' },
    ]);
    expect(violationsOf(AddHumanUserDto, {})).toEqual([
      { field: 'profile', description: 'profile is required' },
      { field: 'email', description: 'email is required' },
    ]);
  });

  it('keeps the rule of an optional field sent empty, and the own message of a conditional one', () => {
    expect(
      violationsOf(AddHumanUserDto, {
        profile: { givenName: 'Minnie', familyName: 'Mouse' },
        email: { email: 'minnie@mouse.com' },
        username: '',
      }),
    ).toEqual([{ field: 'username', description: 'username must be between 1 and 200 characters long' }]);
    expect(violationsOf(CreateUserDto, { organizationId: '1' })).toEqual([
      { field: 'human', description: expect.stringContaining('one of human or machine must be set') },
    ]);
  });
});
