import fc from 'fast-check';
import { headerValue } from './fuzz';
import { authArb } from './routes';
import { bodyArb, GRPC_METHODS } from './protobuf';
import { grpcFrame } from './wire-clients';

/** A gRPC call as either transport carries it: method, metadata, body bytes. */
export interface GrpcRequest {
  path: string;
  metadata: Array<[string, string]>;
  body: Buffer;
}

const metadataName = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'x-request-id',
      'x-user-agent',
      'user-agent',
      'grpc-encoding',
      'grpc-accept-encoding',
      'grpc-timeout',
      'x-data-bin',
      'grpc-status-details-bin',
      'accept-language',
      'x-forwarded-for',
      'x-captcha-token',
      'idempotency-key',
    ),
  },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 8 }).filter((s) => /^[a-z0-9_.-]+$/.test(s)) },
);

const metadataValue = (name: string) =>
  name === 'grpc-encoding'
    ? fc.constantFrom('gzip', 'deflate', 'identity', 'br', 'snappy', '', 'gzip, deflate')
    : name === 'grpc-timeout'
      ? fc.oneof(fc.constantFrom('abc', '1', '0S', '99999999999H', '1n', '-1S', '1.5S', ''), headerValue)
      : name.endsWith('-bin')
        ? fc.oneof(fc.base64String({ maxLength: 24 }), headerValue)
        : headerValue;

export function grpcRequestArb(admin: string, roleless: string, knownIds: string[]): fc.Arbitrary<GrpcRequest> {
  return fc
    .record({
      method: fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom(...GRPC_METHODS) },
        {
          weight: 1,
          arbitrary: fc.constant({ path: '/zitadel.user.v2.UserService/Nothing', request: GRPC_METHODS[0].request }),
        },
      ),
      auth: authArb(admin, roleless),
      metadata: fc.array(
        metadataName.chain((name) => metadataValue(name).map((value) => [name, value] as [string, string])),
        {
          maxLength: 4,
        },
      ),
      // a known user now and then, so that calls get past "not found"
      userId: fc.option(fc.constantFrom(...knownIds), { nil: undefined }),
    })
    .chain(({ method, auth, metadata, userId }) =>
      bodyArb(method.request).map(({ payload, frames, flags }) => {
        const withUser = userId
          ? Buffer.concat([Buffer.from([0x0a, userId.length]), Buffer.from(userId), payload])
          : payload;
        const p = method.request.fields.userId?.id === 1 ? withUser : payload;
        const body =
          frames === 'raw'
            ? Buffer.from(p)
            : frames === 'lying'
              ? grpcFrame(p, flags, p.length + 7)
              : frames === 'two'
                ? Buffer.concat([grpcFrame(p, flags), grpcFrame(p, flags)])
                : grpcFrame(p, flags);
        return {
          path: method.path,
          metadata: [...(auth === undefined ? [] : [['authorization', auth] as [string, string]]), ...metadata],
          body,
        };
      }),
    );
}
