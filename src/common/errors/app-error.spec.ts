import { AppError, toErrorBody } from './app-error';
import { Errors } from './errors';
import { GrpcStatus } from './grpc-status';

describe(AppError.name, () => {
  it('renders the contract error body: code, "<text> (<ID>)" and a ZITADEL ErrorDetail', () => {
    const error = new AppError(GrpcStatus.NOT_FOUND, 'COMMAND-ieJ2e', 'Phone not found');
    expect(error.message).toBe('Phone not found (COMMAND-ieJ2e)');
    expect(toErrorBody(error)).toEqual({
      code: 5,
      message: 'Phone not found (COMMAND-ieJ2e)',
      details: [
        { '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id: 'COMMAND-ieJ2e', message: 'Phone not found' },
      ],
    });
  });

  it('leaves the ErrorDetail out when the error has no ID', () => {
    expect(toErrorBody(new AppError(GrpcStatus.UNAVAILABLE, '', 'down'))).toEqual({
      code: 14,
      message: 'down',
      details: [],
    });
  });

  it('adds google.rpc.BadRequest with every field violation', () => {
    const error = Errors.validation([
      { field: 'userId', description: 'userId must be between 1 and 200 characters long' },
      { field: 'profile.givenName', description: 'givenName must be a string' },
    ]);
    expect(toErrorBody(error)).toEqual({
      code: 3,
      message:
        'invalid request: userId: userId must be between 1 and 200 characters long; profile.givenName: givenName must be a string (VALIDATION-1nv4l)',
      details: [
        {
          '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail',
          id: 'VALIDATION-1nv4l',
          message:
            'invalid request: userId: userId must be between 1 and 200 characters long; profile.givenName: givenName must be a string',
        },
        {
          '@type': 'type.googleapis.com/google.rpc.BadRequest',
          fieldViolations: [
            { field: 'userId', description: 'userId must be between 1 and 200 characters long' },
            { field: 'profile.givenName', description: 'givenName must be a string' },
          ],
        },
      ],
    });
  });

  it('adds RetryInfo in whole seconds, rounded up', () => {
    const error = new AppError(GrpcStatus.RESOURCE_EXHAUSTED, 'PHONE-ratelimit', 'Try again later', {
      retryAfterMs: 1_001,
    });
    expect(toErrorBody(error).details[1]).toEqual({
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
      retryDelay: '2s',
    });
  });

  it('renders INTERNAL with the correlation id in the message and in an ErrorInfo', () => {
    expect(toErrorBody(Errors.internal('c0ffee'))).toEqual({
      code: 13,
      message: 'Internal error, correlation id c0ffee (INTERNAL)',
      details: [
        {
          '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail',
          id: 'INTERNAL',
          message: 'Internal error, correlation id c0ffee',
        },
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'INTERNAL',
          domain: 'phone-verify',
          metadata: { correlationId: 'c0ffee' },
        },
      ],
    });
  });

  it.each([
    [Errors.unauthenticated(), 16, 'AUTH-7fs1e', 'Token is invalid'],
    [Errors.noToken(), 16, 'AUTH-n0t0k', 'Bearer token missing or malformed'],
    [Errors.permissionDenied(), 7, 'AUTH-AWfge', 'No matching permissions found'],
  ])('keeps the catalogue IDs of the contract (%#)', (error, code, id, text) => {
    expect(toErrorBody(error)).toEqual({
      code,
      message: `${text} (${id})`,
      details: [{ '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id, message: text }],
    });
  });
});
