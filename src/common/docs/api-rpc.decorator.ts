import { applyDecorators, Type } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiDefaultResponse,
  ApiExtraModels,
  ApiHeader,
  ApiHeaderOptions,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiResponseOptions,
  getSchemaPath,
} from '@nestjs/swagger';
import { ERROR_DETAIL_TYPE, RETRY_INFO_TYPE } from '../errors/app-error';
import { ErrorBody } from './error-body.dto';

type HeadersObject = NonNullable<ApiResponseOptions['headers']>;

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

const RETRY_AFTER: HeadersObject = {
  'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer', example: 60 } },
};
/** The headers the error filter sends with a status (src/common/errors/error.filter.ts). */
export const ERROR_HEADERS: Partial<Record<number, HeadersObject>> = {
  401: { 'WWW-Authenticate': { description: 'RFC 6750', schema: { type: 'string', example: 'Bearer' } } },
  429: RETRY_AFTER,
  503: RETRY_AFTER,
};

/** An error response of the route: HTTP status, and examples keyed by name. */
export interface DocError {
  status: 400 | 401 | 403 | 404 | 409 | 422 | 429 | 503;
  description: string;
  examples: Record<string, { code: number; id: string; text: string; extra?: object[] }>;
}

export const COMMON_ERRORS = {
  unauthenticated: {
    status: 401,
    description: 'no bearer token, or a malformed one (AUTH-n0t0k); an unknown or expired one (AUTH-7fs1e)',
    examples: {
      noToken: { code: 16, id: 'AUTH-n0t0k', text: 'Bearer token missing or malformed' },
      token: { code: 16, id: 'AUTH-7fs1e', text: 'Token is invalid' },
    },
  },
  forbidden: {
    status: 403,
    description: 'the caller lacks the permission',
    examples: { permission: { code: 7, id: 'AUTH-AWfge', text: 'No matching permissions found' } },
  },
  throttled: {
    status: 429,
    description: 'too many requests from this client (THROTTLE_LIMIT); see Retry-After',
    examples: {
      throttled: {
        code: 8,
        id: 'API-thr0ttle',
        text: 'Too many requests from this client',
        extra: [{ '@type': RETRY_INFO_TYPE, retryDelay: '1s' }],
      },
    },
  },
  unavailable: {
    status: 503,
    description: 'a dependency (database, Redis) is unreachable; nothing was changed, try again after Retry-After',
    examples: {
      database: {
        code: 14,
        id: 'API-unavail',
        text: 'Service temporarily unavailable',
        extra: [{ '@type': RETRY_INFO_TYPE, retryDelay: '1s' }],
      },
    },
  },
} satisfies Record<string, DocError>;

/**
 * One error response: the shared ErrorBody schema by reference, the route's examples, and the
 * headers the filter sends with its status (`null`: none, for a 503 that carries no Retry-After).
 */
export function ApiErrorResponse(error: DocError, headers?: HeadersObject | null): MethodDecorator {
  return ApiResponse({
    status: error.status,
    description: error.description,
    headers: headers === null ? undefined : (headers ?? ERROR_HEADERS[error.status]),
    content: {
      'application/json': {
        schema: { $ref: getSchemaPath(ErrorBody) },
        examples: Object.fromEntries(
          Object.entries(error.examples).map(([name, e]) => [
            name,
            { value: errorExample(e.code, e.id, e.text, e.extra) },
          ]),
        ),
      },
    },
  });
}

export interface RpcDoc {
  /** the gRPC service; the operation id is `<service>_<method>` as in ZITADEL's own OpenAPI */
  service: 'UserService' | 'OrganizationService';
  method: string;
  summary: string;
  description?: string;
  body?: Type<unknown>;
  /**
   * Valid bodies, by name: Swagger UI offers them instead of a sample built from the schema, which
   * would set every member of a oneof at once and be refused.
   */
  bodyExamples?: Record<string, object>;
  userIdParam?: boolean;
  /** request headers the route reads besides Authorization */
  headers?: ApiHeaderOptions[];
  /** the documentation class of the answer, and an example of it */
  response: Type<unknown>;
  example: object;
  errors: DocError[];
}

/** Every authenticated route can be throttled (ThrottleGuard) and meet an unreachable dependency. */
function withCommonErrors(errors: DocError[]): DocError[] {
  const own = errors.find((error) => error.status === 429);
  const limited = own
    ? { ...own, examples: { ...own.examples, ...COMMON_ERRORS.throttled.examples } }
    : COMMON_ERRORS.throttled;
  return [...errors.filter((error) => error !== own), limited, COMMON_ERRORS.unavailable];
}

/** Swagger for one REST route of the contract: operation, parameters, body, the 200 answer and every error. */
export function ApiRpc(doc: RpcDoc): MethodDecorator {
  const decorators = [
    ApiExtraModels(ErrorBody),
    ApiOperation({ summary: doc.summary, description: doc.description, operationId: `${doc.service}_${doc.method}` }),
    ApiBearerAuth(),
    ApiResponse({ status: 200, description: 'OK', type: doc.response, example: doc.example }),
    ...withCommonErrors(doc.errors).map((error) => ApiErrorResponse(error)),
    ApiDefaultResponse({
      description: 'any other error, same body',
      content: {
        'application/json': {
          schema: { $ref: getSchemaPath(ErrorBody) },
          example: errorExample(13, 'INTERNAL', 'Internal error, correlation id 2f0c…'),
        },
      },
    }),
  ];
  if (doc.userIdParam)
    decorators.push(
      ApiParam({ name: 'userId', type: String, description: 'ID of the user', example: '69629023906488334' }),
    );
  for (const header of doc.headers ?? []) decorators.push(ApiHeader(header));
  if (doc.body) decorators.push(RequestBody(doc.body, doc.bodyExamples));
  return applyDecorators(...decorators);
}

/** A request body by its schema, with examples (ApiBody takes examples only beside a schema). */
export function RequestBody(
  type: Type<unknown>,
  examples: Record<string, object> = {},
  options: { required?: boolean; description?: string } = {},
): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(type),
    ApiBody({
      required: options.required ?? true,
      description: options.description,
      schema: { $ref: getSchemaPath(type) },
      examples: Object.fromEntries(Object.entries(examples).map(([name, value]) => [name, { value }])),
    }),
  );
}
