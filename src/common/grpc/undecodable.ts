import { Errors } from '../errors/errors';

const UNDECODABLE = Symbol('undecodable gRPC request');

/**
 * grpc-js answers a request its deserializer rejects with INTERNAL, as if the server had failed.
 * The server's deserializer hands such bytes on as this marker instead, and the handler's request
 * parameter turns it into the client's error it is (INVALID_ARGUMENT) after the guards ran.
 */
export function undecodable(): object {
  return { [UNDECODABLE]: true };
}

export function assertDecoded(data: unknown): void {
  if (data !== null && typeof data === 'object' && UNDECODABLE in data) {
    throw Errors.validation([
      { field: 'body', description: 'the message is not a valid protobuf encoding of the request' },
    ]);
  }
}
