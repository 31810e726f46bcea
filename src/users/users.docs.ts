import { IDEMPOTENCY_HEADER, withIdempotencyErrors } from '../common/docs/idempotency.docs';
import { OmitType } from '@nestjs/swagger';
import { ApiRpc, COMMON_ERRORS, DETAILS_EXAMPLE, DocError } from '../common/docs/api-rpc.decorator';
import { AddHumanUserDto } from './dto/add-human-user.dto';
import { AddOrganizationDto } from './dto/add-organization.dto';
import { CreateUserDto } from './dto/create-user.dto';
import { AddPersonalAccessTokenDto } from './dto/user-requests.dto';
import {
  AddHumanUserResponseDto,
  AddOrganizationResponseDto,
  AddPersonalAccessTokenResponseDto,
  CreateUserResponseDto,
  DeactivateUserResponseDto,
  DeleteUserResponseDto,
  GetUserByIDResponseDto,
  LockUserResponseDto,
  ReactivateUserResponseDto,
  UnlockUserResponseDto,
} from './dto/user-responses.dto';

// the REST body of AddPersonalAccessToken: userId comes from the path
class AddPersonalAccessTokenBody extends OmitType(AddPersonalAccessTokenDto, ['userId'] as const) {}

/** The organization the examples name (an IAM_OWNER may create it with this organizationId). */
const ORG_ID = '69629023906488334';
const MINNIE = { givenName: 'Minnie', familyName: 'Mouse' };

const STATE_CHANGE_RESPONSES = {
  DeactivateUser: DeactivateUserResponseDto,
  ReactivateUser: ReactivateUserResponseDto,
  LockUser: LockUserResponseDto,
  UnlockUser: UnlockUserResponseDto,
};

const invalid: DocError = {
  status: 400,
  description: 'invalid request, or the user is not in the required state',
  examples: {
    validation: {
      code: 3,
      id: 'VALIDATION-1nv4l',
      text: 'invalid request: profile.givenName: givenName must be between 1 and 200 characters long',
    },
  },
};
const userNotFound: DocError = {
  status: 404,
  description: 'no such user, or one the caller may not read',
  examples: { user: { code: 5, id: 'QUERY-Dfbg2', text: 'User could not be found' } },
};
const orgNotFound: DocError = {
  status: 404,
  description: 'no such organization, or another one the caller may not read',
  examples: { org: { code: 5, id: 'ORG-iTUSx', text: 'Organisation not found' } },
};
const conflict: DocError = {
  status: 409,
  description: 'a user with this ID (which only an IAM_OWNER may choose) or username exists',
  examples: { exists: { code: 6, id: 'COMMAND-k2unb', text: 'User already exists' } },
};
const std = [COMMON_ERRORS.unauthenticated, COMMON_ERRORS.forbidden];

/** Swagger of the user and organization routes. */
export const UserDocs = {
  addHumanUser: () =>
    ApiRpc({
      service: 'UserService',
      method: 'AddHumanUser',
      response: AddHumanUserResponseDto,
      summary: 'Create a human user',
      body: AddHumanUserDto,
      bodyExamples: {
        sendCodes: {
          profile: MINNIE,
          email: { email: 'minnie@mouse.com' },
          phone: { phone: '+41791234567' },
        },
        returnCodes: {
          profile: { givenName: 'Mickey', familyName: 'Mouse', preferredLanguage: 'en' },
          email: { email: 'mickey@mouse.com' },
          phone: { phone: '+41791234567', returnCode: {} },
          organization: { orgId: ORG_ID },
        },
        verified: {
          username: 'daisy',
          profile: { givenName: 'Daisy', familyName: 'Duck' },
          email: { email: 'daisy@duck.com', isVerified: true },
          phone: { phone: '+41791234567', isVerified: true },
        },
      },
      headers: [IDEMPOTENCY_HEADER],
      example: { userId: '69629026806489455', details: DETAILS_EXAMPLE, phoneCode: '123456' },
      errors: withIdempotencyErrors('AddHumanUser', [invalid, ...std, orgNotFound, conflict]),
    }),
  createUser: () =>
    ApiRpc({
      service: 'UserService',
      method: 'CreateUser',
      response: CreateUserResponseDto,
      summary: 'Create a human or machine user',
      body: CreateUserDto,
      bodyExamples: {
        human: {
          organizationId: ORG_ID,
          human: { profile: { givenName: 'Donald', familyName: 'Duck' }, email: { email: 'donald@duck.com' } },
        },
        machine: { organizationId: ORG_ID, username: 'build-bot', machine: { name: 'Build bot' } },
      },
      example: { id: '69629026806489455', creationDate: '2024-11-22T16:27:04.996Z' },
      errors: [invalid, ...std, orgNotFound, conflict],
    }),
  getUserById: () =>
    ApiRpc({
      service: 'UserService',
      method: 'GetUserByID',
      response: GetUserByIDResponseDto,
      summary: 'Read a user',
      userIdParam: true,
      example: {
        details: { ...DETAILS_EXAMPLE, creationDate: '2024-11-22T16:27:04.996Z' },
        user: {
          userId: '69629026806489455',
          state: 'USER_STATE_ACTIVE',
          username: 'minnie@mouse.com',
          loginNames: ['minnie@mouse.com@acme.localhost'],
          preferredLoginName: 'minnie@mouse.com@acme.localhost',
          human: {
            profile: { givenName: 'Minnie', familyName: 'Mouse', displayName: 'Minnie Mouse' },
            email: { email: 'minnie@mouse.com' },
            phone: { phone: '+41791234567', isVerified: true },
          },
        },
      },
      errors: [invalid, ...std, userNotFound],
    }),
  stateChange: (method: keyof typeof STATE_CHANGE_RESPONSES, summary: string) =>
    ApiRpc({
      service: 'UserService',
      method,
      response: STATE_CHANGE_RESPONSES[method],
      summary,
      userIdParam: true,
      example: { details: DETAILS_EXAMPLE },
      errors: [invalid, ...std, userNotFound],
    }),
  deleteUser: () =>
    ApiRpc({
      service: 'UserService',
      method: 'DeleteUser',
      response: DeleteUserResponseDto,
      summary: 'Delete a user',
      userIdParam: true,
      example: { details: DETAILS_EXAMPLE },
      errors: [invalid, ...std, userNotFound],
    }),
  addPersonalAccessToken: () =>
    ApiRpc({
      service: 'UserService',
      method: 'AddPersonalAccessToken',
      response: AddPersonalAccessTokenResponseDto,
      summary: 'Create a personal access token for a machine user',
      description: 'The token is shown once; only its SHA-256 is stored.',
      body: AddPersonalAccessTokenBody,
      bodyExamples: { never: {}, expiring: { expirationDate: '2030-01-01T00:00:00Z' } },
      userIdParam: true,
      example: { creationDate: '2024-11-22T16:27:04.996Z', tokenId: '69629026806489466', token: 'Vr2b…' },
      errors: [invalid, ...std, userNotFound],
    }),
  addOrganization: () =>
    ApiRpc({
      service: 'OrganizationService',
      method: 'AddOrganization',
      response: AddOrganizationResponseDto,
      summary: 'Create an organization with its administrators (IAM_OWNER only)',
      body: AddOrganizationDto,
      bodyExamples: {
        alone: { name: 'ACME' },
        withAdmin: {
          name: 'Globex',
          admins: [{ human: { profile: MINNIE, email: { email: 'minnie@globex.com' } }, roles: ['ORG_OWNER'] }],
        },
      },
      example: {
        details: DETAILS_EXAMPLE,
        organizationId: '69629023906488334',
        createdAdmins: [{ userId: '69629026806489455' }],
      },
      errors: [
        invalid,
        ...std,
        {
          ...conflict,
          description: 'an organization with this name exists',
          examples: { exists: { code: 6, id: 'ORG-lapo2m', text: 'Organisation already exists' } },
        },
      ],
    }),
};
