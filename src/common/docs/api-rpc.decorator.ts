import { applyDecorators, Type } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiDefaultResponse, ApiOperation, ApiParam, ApiResponse } from '@nestjs/swagger';
import { ERROR_DETAIL_TYPE } from '../errors/app-error';

export const DETAILS_EXAMPLE = {
  sequence: '2',
  changeDate: '2024-11-22T16:27:04.996Z',
  resourceOwner: '69629023906488334',
};

function errorExample(code: number, id: string, text: string, extra: object[] = []) {
  return {
    code,
    message: `${text} (${id})`,
    details: [{ '@type': ERROR_DETAIL_TYPE, id, message: text }, ...extra],
  };
}

const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    code: { type: 'integer', description: 'gRPC status code' },
    message: { type: 'string', description: '"<text> (<ID>)"' },
    details: { type: 'array', items: { type: 'object', properties: { '@type': { type: 'string' } } } },
  },
};

/** An error response of the route: HTTP status, and examples keyed by name. */
export interface DocError {
  status: 400 | 401 | 403 | 404 | 409 | 429;
  description: string;
  examples: Record<string, { code: number; id: string; text: string; extra?: object[] }>;
}

export const COMMON_ERRORS = {
  unauthenticated: {
    status: 401,
    description: 'missing, malformed, unknown or expired token',
    examples: { token: { code: 16, id: 'AUTH-7fs1e', text: 'Token is invalid' } },
  },
  forbidden: {
    status: 403,
    description: 'the caller lacks the permission',
    examples: { permission: { code: 7, id: 'AUTH-AWfge', text: 'No matching permissions found' } },
  },
} satisfies Record<string, DocError>;

export interface RpcDoc {
  summary: string;
  description?: string;
  method: string;
  body?: Type<unknown>;
  userIdParam?: boolean;
  response: object;
  errors: DocError[];
}

/** Swagger for one REST route of the contract: operation, parameters, body, the 200 example and every error. */
export function ApiRpc(doc: RpcDoc): MethodDecorator {
  const decorators = [
    ApiOperation({ summary: doc.summary, description: doc.description, operationId: doc.method }),
    ApiBearerAuth(),
    ApiResponse({ status: 200, description: 'OK', schema: { type: 'object', example: doc.response } }),
    ...doc.errors.map((error) =>
      ApiResponse({
        status: error.status,
        description: error.description,
        content: {
          'application/json': {
            schema: ERROR_SCHEMA,
            examples: Object.fromEntries(
              Object.entries(error.examples).map(([name, e]) => [
                name,
                { value: errorExample(e.code, e.id, e.text, e.extra) },
              ]),
            ),
          },
        },
      }),
    ),
    ApiDefaultResponse({
      description: 'any other error, same body',
      content: {
        'application/json': {
          schema: ERROR_SCHEMA,
          example: errorExample(13, 'INTERNAL', 'Internal error, correlation id 2f0c…'),
        },
      },
    }),
  ];
  if (doc.userIdParam)
    decorators.push(
      ApiParam({ name: 'userId', type: String, description: 'ID of the user', example: '69629023906488334' }),
    );
  if (doc.body) decorators.push(ApiBody({ type: doc.body }));
  return applyDecorators(...decorators);
}
