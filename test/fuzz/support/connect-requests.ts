import { fromJson, toBinary } from '@bufbuild/protobuf';
import type { DescMessage } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { constants } from 'node:http2';
import { gzipSync } from 'node:zlib';
import type { Type } from 'protobufjs';
import { protoRegistry } from '../../support/transports';
import type { ConnectAnswer } from './checks';
import { deepJson, headerValue, hostileString, Json, jsonArb, jsonText, mutatedJson, toJson } from './fuzz';
import { GRPC_METHODS, messageBytes, wtf8 } from './protobuf';
import { FIELD_NAMES, REST_ROUTES } from './routes';
import { http2Call, http2Session, rawHttp } from './wire-clients';

/** A Connect method: its path, its request type as protobufjs reads it, buf's schemas, valid requests. */
export interface ConnectMethod {
  path: string;
  request: Type;
  input?: DescMessage;
  output?: DescMessage;
  templates: (userId: string, orgId: string) => Json[];
}

const HEALTH_CHECK = GRPC_METHODS.find((m) => m.path === '/grpc.health.v1.Health/Check')!;

/** Every unary method of the gRPC server, a streaming one (Health/Watch) and one nobody serves. */
export const CONNECT_METHODS: ConnectMethod[] = [
  ...GRPC_METHODS.filter((m) => !m.path.includes('Reflection')),
  { path: '/grpc.health.v1.Health/Watch', request: HEALTH_CHECK.request },
  { path: '/zitadel.user.v2.UserService/Nothing', request: GRPC_METHODS[0].request },
].map(({ path, request }) => {
  const [, service, name] = /^\/(.+)\/([^/]+)$/.exec(path)!;
  const method = protoRegistry()
    .getService(service)
    ?.methods.find((m) => m.name === name);
  // REST's valid bodies, with the user the path names as a field
  const routes = REST_ROUTES.filter((r) => r.method.replace(/ \(.*\)$/, '') === name);
  return {
    path,
    request,
    input: method?.input,
    output: method?.output,
    templates: (userId, orgId) =>
      routes.length
        ? routes.map((r) =>
            toJson({
              ...(r.path('\u0000', orgId).includes('\u0000') ? { userId } : {}),
              ...r.body(userId, orgId),
            }),
          )
        : [toJson(name === 'Check' ? { service: '' } : {})],
  };
});

/** Every field name of the request types (protobuf JSON's and the proto's), and REST's. */
export const CONNECT_FIELDS = [
  ...new Set([
    ...FIELD_NAMES,
    ...CONNECT_METHODS.flatMap((m) =>
      m.request.fieldsArray.flatMap((f) => [f.name, f.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]),
    ),
  ]),
];

/** A number JSON can write that no JavaScript number or 64-bit integer holds. */
const hugeNumber = fc.constantFrom(
  '1e400',
  '-1e400',
  '18446744073709551616',
  '-9223372036854775809',
  '123456789012345678901234567890',
  '1E2',
  '-0',
  '0.0000001',
  '4294967296',
  '"18446744073709551616"',
  '"1e400"',
  '"NaN"',
  '"Infinity"',
);

/** A JSON body: a valid request mutated, any JSON, huge numbers, deep nesting, invalid UTF-8 or no JSON. */
export function jsonBodyArb(templates: Json[]): fc.Arbitrary<Buffer> {
  const template = fc.constantFrom(...templates);
  return fc.oneof(
    {
      weight: 8,
      arbitrary: template.chain((t) => mutatedJson(t, CONNECT_FIELDS)).map((j) => Buffer.from(wtf8(jsonText(j)))),
    },
    { weight: 2, arbitrary: jsonArb(CONNECT_FIELDS).map((j) => Buffer.from(wtf8(jsonText(j)))) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(template, fc.constantFrom(...CONNECT_FIELDS), hugeNumber)
        .map(([t, field, n]) =>
          Buffer.from(jsonText(t).replace(/^\{/, `{${JSON.stringify(field)}:${n}${jsonText(t) === '{}' ? '' : ','}`)),
        ),
    },
    {
      weight: 1,
      // bytes no UTF-8 decoder accepts, anywhere in a valid body
      arbitrary: fc
        .tuple(
          template,
          fc.nat(),
          fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => b.map((x) => x | 0x80)),
        )
        .map(([t, at, bad]) => {
          const text = Buffer.from(jsonText(t));
          const i = at % (text.length + 1);
          return Buffer.concat([text.subarray(0, i), bad, text.subarray(i)]);
        }),
    },
    { weight: 1, arbitrary: deepJson.map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: hostileString.map((s) => Buffer.from(wtf8(s))) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('', 'null', '[]', '""', '1', 'true', '{', '{"a":1}{}', '\ufeff{}')
        .map((s) => Buffer.from(s)),
    },
  );
}

/** A binary body: almost-protobuf of the request type, random bytes, or a valid request with junk after it. */
export function protoBodyArb(method: ConnectMethod, templates: Json[]): fc.Arbitrary<Buffer> {
  const valid = templates.flatMap((t) => {
    if (!method.input) return [];
    try {
      return [Buffer.from(toBinary(method.input, fromJson(method.input, JSON.parse(jsonText(t)))))];
    } catch {
      return [];
    }
  });
  return fc.oneof(
    { weight: 6, arbitrary: messageBytes(method.request).map((b) => Buffer.from(b)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
    ...(valid.length
      ? [
          {
            weight: 2,
            arbitrary: fc
              .tuple(fc.constantFrom(...valid), fc.uint8Array({ maxLength: 8 }))
              .map(([v, junk]) => Buffer.concat([v, junk])),
          },
        ]
      : []),
  );
}

export type Encoding = 'identity' | 'gzip' | 'truncated gzip' | 'not gzip' | 'gzip bomb' | 'gzip twice';

/** How a body travels: as it is, gzipped, or gzip gone wrong (cut short, not gzip at all, a bomb). */
export const encodingArb: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 10, arbitrary: fc.constant('identity' as const) },
  { weight: 3, arbitrary: fc.constant('gzip' as const) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'truncated gzip' as const,
      'not gzip' as const,
      'gzip bomb' as const,
      'gzip twice' as const,
    ),
  },
);

export function encode(body: Buffer, encoding: Encoding, cut: number): { body: Buffer; contentEncoding?: string } {
  switch (encoding) {
    case 'identity':
      return { body };
    case 'gzip':
      return { body: gzipSync(body), contentEncoding: 'gzip' };
    case 'truncated gzip': {
      const zipped = gzipSync(body);
      return { body: zipped.subarray(0, cut % zipped.length), contentEncoding: 'gzip' };
    }
    case 'not gzip':
      return { body, contentEncoding: 'gzip' };
    case 'gzip bomb':
      // small on the wire, far over the body limit once inflated
      return { body: gzipSync(Buffer.concat([body, Buffer.alloc(4 * 1024 * 1024, 0x20)])), contentEncoding: 'gzip' };
    case 'gzip twice':
      return { body: gzipSync(gzipSync(body)), contentEncoding: 'gzip' };
  }
}

/** Header values a client can send (Node's clients refuse CR, LF and NUL), and junk for each Connect header. */
export const connectHeaderArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(
      fc.constant('connect-timeout-ms'),
      fc.oneof(
        fc.integer({ min: 0, max: 20 }).map(String),
        fc.integer({ min: 1000, max: 9_999_999_999 }).map(String),
        fc.constantFrom('', ' ', '-1', '1.5', '1e3', '0x10', '00000000001', '99999999999', '1 2', '١٢'),
        headerValue,
      ),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.constant('connect-protocol-version'),
      fc.oneof(fc.constantFrom('1', '0', '2', '', ' 1', '1.0', 'v1'), headerValue),
    ),
  },
  { weight: 2, arbitrary: fc.tuple(fc.constant('x-request-id'), headerValue) },
  {
    weight: 2,
    arbitrary: fc.tuple(
      fc.constant('accept-encoding'),
      fc.oneof(
        fc.constantFrom('gzip', 'gzip;q=0', 'br', '*', 'identity', 'gzip, deflate, br', 'GZIP;q=1.0', ''),
        headerValue,
      ),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(
        'connect-accept-encoding',
        'connect-content-encoding',
        'grpc-timeout',
        'x-zitadel-orgid',
        'x-user-agent',
        'user-agent',
        'te',
        'origin',
        'accept',
      ),
      headerValue,
    ),
  },
);

/** A content type: Connect's, their near misses and any text, never gRPC-web's (which its own fuzz has). */
export const connectContentTypeArb = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom('application/json', 'application/proto') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'application/json; charset=utf-8',
        'application/json;charset="utf-8"',
        'APPLICATION/JSON',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/connect+json',
        'application/connect+proto',
        'application/grpc',
        'application/grpc+json',
        'application/protobuf',
        'application/x-protobuf',
        'application/proto; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        '*/*',
        '',
      ),
    },
    { weight: 1, arbitrary: headerValue },
  )
  .filter((type) => !/^\s*application\/grpc-web/i.test(type));

export interface ConnectRequest {
  verb: string;
  path: string;
  headers: Array<[string, string]>;
  body: Buffer;
  http2: boolean;
}

/** One request on a connection of its own, over HTTP/1.1 (raw bytes) or HTTP/2 (node:http2); undefined: a header Node's HTTP/2 client refuses. */
export async function sendConnect(port: number, request: ConnectRequest): Promise<ConnectAnswer | undefined> {
  if (!request.http2) {
    const head = [
      `${request.verb} ${request.path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: close',
      ...request.headers.map(([name, value]) => `${name}: ${value}`),
      `Content-Length: ${request.body.length}`,
    ];
    const answer = await rawHttp(
      port,
      Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), request.body]),
    );
    return { status: answer.status, headers: answer.headers, body: answer.body };
  }
  const session = http2Session(`127.0.0.1:${port}`);
  try {
    const headers: Record<string, string | string[]> = { [constants.HTTP2_HEADER_PATH]: request.path };
    for (const [name, value] of request.headers) {
      const lower = name.toLowerCase();
      // one field a name, as HTTP/2 (and Node's client) carries it; a connection header HTTP/2 forbids
      if (lower === 'te' && value !== 'trailers') continue;
      headers[lower] = value;
    }
    const answer = await http2Call(
      session,
      { ...headers, [constants.HTTP2_HEADER_METHOD]: request.verb },
      request.body,
    );
    return { status: Number(answer.headers[':status']), headers: answer.headers, body: answer.data };
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (code.startsWith('ERR_HTTP2_INVALID') || code === 'ERR_INVALID_CHAR') return undefined;
    throw error;
  } finally {
    session.close();
  }
}
