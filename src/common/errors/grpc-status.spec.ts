import { GrpcStatus, grpcStatusOfHttp, httpStatusOf } from './grpc-status';

describe('GrpcStatus', () => {
  it.each([
    [GrpcStatus.INVALID_ARGUMENT, 400],
    [GrpcStatus.FAILED_PRECONDITION, 400],
    [GrpcStatus.OUT_OF_RANGE, 400],
    [GrpcStatus.NOT_FOUND, 404],
    [GrpcStatus.PERMISSION_DENIED, 403],
    [GrpcStatus.UNAUTHENTICATED, 401],
    [GrpcStatus.ALREADY_EXISTS, 409],
    [GrpcStatus.ABORTED, 409],
    [GrpcStatus.RESOURCE_EXHAUSTED, 429],
    [GrpcStatus.UNIMPLEMENTED, 501],
    [GrpcStatus.INTERNAL, 500],
    [GrpcStatus.UNKNOWN, 500],
    [GrpcStatus.UNAVAILABLE, 503],
    [GrpcStatus.DEADLINE_EXCEEDED, 504],
    [GrpcStatus.DATA_LOSS, 500],
    [GrpcStatus.OK, 200],
  ])('maps gRPC code %i to HTTP %i (contract §6)', (code, status) => {
    expect(httpStatusOf(code)).toBe(status);
  });

  it('maps an unknown code to 500', () => {
    expect(httpStatusOf(99 as GrpcStatus)).toBe(500);
  });

  it.each([
    [400, GrpcStatus.INVALID_ARGUMENT],
    [401, GrpcStatus.UNAUTHENTICATED],
    [403, GrpcStatus.PERMISSION_DENIED],
    [404, GrpcStatus.NOT_FOUND],
    [405, GrpcStatus.UNIMPLEMENTED],
    [409, GrpcStatus.ALREADY_EXISTS],
    [413, GrpcStatus.INVALID_ARGUMENT],
    [415, GrpcStatus.INVALID_ARGUMENT],
    [418, GrpcStatus.INVALID_ARGUMENT],
    [429, GrpcStatus.RESOURCE_EXHAUSTED],
    [501, GrpcStatus.UNIMPLEMENTED],
    [502, GrpcStatus.INTERNAL],
    [503, GrpcStatus.UNAVAILABLE],
    [504, GrpcStatus.DEADLINE_EXCEEDED],
  ])('reads HTTP %i raised by the HTTP stack as gRPC code %i', (status, code) => {
    expect(grpcStatusOfHttp(status)).toBe(code);
  });
});
