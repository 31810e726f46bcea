/** gRPC status codes (google.rpc.Code). */
export enum GrpcStatus {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** Status names by number (OK, INVALID_ARGUMENT, …), as logs and metrics show them. */
const NAMES: string[] = [];
for (const [name, value] of Object.entries(GrpcStatus)) if (typeof value === 'number') NAMES[value] = name;

export function statusName(code: number): string {
  return NAMES[code] ?? 'UNKNOWN';
}

/** Statuses that are the server's fault (as OpenTelemetry's gRPC conventions mark a server span). */
const SERVER_FAULTS = new Set<number>([
  GrpcStatus.UNKNOWN,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.UNIMPLEMENTED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
]);

export function isServerFault(code: number): boolean {
  return SERVER_FAULTS.has(code);
}

/** The one table from gRPC code to HTTP status (contract §6). */
const HTTP_STATUS: Record<GrpcStatus, number> = {
  [GrpcStatus.OK]: 200,
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNKNOWN]: 500,
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.INTERNAL]: 500,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DATA_LOSS]: 500,
  [GrpcStatus.UNAUTHENTICATED]: 401,
};

export function httpStatusOf(code: GrpcStatus): number {
  return HTTP_STATUS[code] ?? 500;
}

/** The reverse, for errors raised by the HTTP stack itself (unknown route, bad JSON, body too large). */
export function grpcStatusOfHttp(status: number): GrpcStatus {
  switch (status) {
    case 400:
      return GrpcStatus.INVALID_ARGUMENT;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.NOT_FOUND;
    case 405:
      return GrpcStatus.UNIMPLEMENTED;
    case 409:
      return GrpcStatus.ALREADY_EXISTS;
    case 413:
      return GrpcStatus.INVALID_ARGUMENT;
    case 415:
      return GrpcStatus.INVALID_ARGUMENT;
    case 429:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 501:
      return GrpcStatus.UNIMPLEMENTED;
    case 503:
      return GrpcStatus.UNAVAILABLE;
    case 504:
      return GrpcStatus.DEADLINE_EXCEEDED;
    default:
      return status >= 500 ? GrpcStatus.INTERNAL : GrpcStatus.INVALID_ARGUMENT;
  }
}
