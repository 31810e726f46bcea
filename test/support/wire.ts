/** Matchers for the wire contract (contract §4–§6), shared by the e2e suites. */

/** A 64-bit decimal ID (contract §5). */
export const ID = expect.stringMatching(/^[1-9]\d{0,19}$/);
/** An RFC 3339 timestamp in UTC, as protobuf JSON writes it. */
export const TIME_PATTERN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
export const TIME = expect.stringMatching(TIME_PATTERN);
/** A uint64 written as a JSON string. */
export const SEQUENCE = expect.stringMatching(/^[1-9]\d*$/);

/** The `@type` of each error detail an answer may carry (contract §6). */
export const ERROR_DETAIL = 'type.googleapis.com/zitadel.v1.ErrorDetail';
export const BAD_REQUEST = 'type.googleapis.com/google.rpc.BadRequest';
export const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';
export const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';

/** The content type of a binary gRPC-web call. */
export const GRPC_WEB = 'application/grpc-web+proto';

/** The exact error body of a catalogued error (contract §6). */
export function errorBody(code: number, id: string, text: string) {
  return { code, message: `${text} (${id})`, details: [{ '@type': ERROR_DETAIL, id, message: text }] };
}

export const UNAUTHENTICATED = errorBody(16, 'AUTH-7fs1e', 'Token is invalid');
/** No bearer token in the request at all (a token that names no caller is UNAUTHENTICATED). */
export const NO_TOKEN = errorBody(16, 'AUTH-n0t0k', 'Bearer token missing or malformed');
export const PERMISSION_DENIED = errorBody(7, 'AUTH-AWfge', 'No matching permissions found');
export const USER_NOT_FOUND = errorBody(5, 'QUERY-Dfbg2', 'User could not be found');

/** A validation error listing exactly these fields, once each, in any order. */
export function validationBody(fields: string[]) {
  return {
    code: 3,
    message: expect.stringMatching(/^invalid request: .+ \(VALIDATION-1nv4l\)$/),
    details: [
      { '@type': ERROR_DETAIL, id: 'VALIDATION-1nv4l', message: expect.stringMatching(/^invalid request: /) },
      {
        '@type': BAD_REQUEST,
        fieldViolations: expect.arrayContaining(
          fields.map((field) => ({ field, description: expect.any(String) })),
        ) as unknown,
      },
    ],
  };
}

/** The fields named in a validation error body, sorted. */
export function violatedFields(body: { details?: Array<{ fieldViolations?: Array<{ field: string }> }> }): string[] {
  const badRequest = body.details?.find((d) => d.fieldViolations);
  return (badRequest?.fieldViolations ?? []).map((v) => v.field).sort();
}
