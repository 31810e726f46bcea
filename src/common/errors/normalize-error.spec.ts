import {
  BadRequestException,
  InternalServerErrorException,
  NotFoundException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { AppError } from './app-error';
import { Errors } from './errors';
import { GrpcStatus } from './grpc-status';
import { normalizeError } from './normalize-error';

describe('normalizeError', () => {
  const logger = { error: jest.fn() };
  beforeEach(() => logger.error.mockReset());

  it('passes application errors through untouched and logs nothing', () => {
    const error = Errors.userNotFound();
    expect(normalizeError(error, logger)).toBe(error);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('turns an unknown route into NOT_FOUND', () => {
    const error = normalizeError(new NotFoundException('Cannot GET /nope'), logger);
    expect([error.code, error.id, error.text]).toEqual([GrpcStatus.NOT_FOUND, 'API-n0tfd', 'Route not found']);
  });

  it('reads malformed JSON as a validation error of the body', () => {
    const error = normalizeError(
      Object.assign(new Error('parser'), { type: 'entity.parse.failed', status: 400 }),
      logger,
    );
    expect([error.code, error.id, error.extras.fieldViolations]).toEqual([
      GrpcStatus.INVALID_ARGUMENT,
      'VALIDATION-1nv4l',
      [{ field: 'body', description: 'malformed JSON' }],
    ]);
  });

  it('answers a 415 of the HTTP stack with the catalogue error and its status', () => {
    const error = normalizeError(new UnsupportedMediaTypeException('unsupported charset "LATIN1"'), logger);
    expect([error.extras.http?.status, error.code, error.id]).toEqual([415, GrpcStatus.INVALID_ARGUMENT, 'API-unsup']);
  });

  it('turns a 400 from the HTTP stack into a validation error', () => {
    const error = normalizeError(new BadRequestException('Unexpected token'), logger);
    expect(error.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(error.extras.fieldViolations).toEqual([{ field: 'body', description: 'Unexpected token' }]);
  });

  it.each([
    [{ type: 'entity.too.large', status: 413 }, 413, GrpcStatus.INVALID_ARGUMENT, 'API-t00big'],
    [{ type: 'charset.unsupported', statusCode: 415 }, 415, GrpcStatus.INVALID_ARGUMENT, 'API-unsup'],
  ])('reads body-parser error %o, keeping its HTTP status', (raw, status, code, id) => {
    const error = normalizeError(Object.assign(new Error('parser'), raw), logger);
    expect([error.extras.http?.status, error.code, error.id]).toEqual([status, code, id]);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it.each([
    ['a plain Error', new Error('connection refused to 10.0.0.7')],
    ['an HTTP 500', new InternalServerErrorException('secret detail')],
    ['a thrown string', 'boom'],
  ])('turns %s into INTERNAL with a correlation id, logged with the original error', (_, thrown) => {
    const error = normalizeError(thrown, logger);
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe(GrpcStatus.INTERNAL);
    const correlationId = error.extras.info?.metadata.correlationId;
    expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.message).toBe(`Internal error, correlation id ${correlationId} (INTERNAL)`);
    expect(logger.error).toHaveBeenCalledWith({ err: thrown, correlationId }, 'unexpected error');
  });
});
