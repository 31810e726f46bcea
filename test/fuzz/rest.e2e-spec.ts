import fc from 'fast-check';
import { DATABASES, startApp, TestApp } from '../support/test-app';
import { httpPort } from '../support/transports';
import { checkRestAnswer, collectSecrets, expectStillServingAndNoLeaks, Fixtures, fixtures } from './support/checks';
import {
  deepJson,
  FUZZ_TIMEOUT,
  fuzz,
  headerValue,
  hostileString,
  jsonArb,
  jsonText,
  mutatedJson,
  toJson,
} from './support/fuzz';
import { authArb, contentTypeArb, FIELD_NAMES, pathIdArb, REST_ROUTES } from './support/routes';
import { rawHttp } from './support/wire-clients';

/** Hostile REST requests against the real app: never a 5xx, every error in the documented body. */
describe.each(DATABASES)('fuzz: REST (%s)', (db) => {
  let t: TestApp;
  let f: Fixtures;

  beforeAll(async () => {
    t = await startApp(db);
    f = await fixtures(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it(
    'generated bodies, field types, strings and ids on every route',
    async () => {
      const request = fc.constantFrom(...REST_ROUTES).chain((route) => {
        const template = route.body(f.userId, f.orgId);
        return fc.record({
          route: fc.constant(route),
          id: pathIdArb([f.userId, f.roleless.userId, f.orgId]),
          auth: authArb(t.adminToken, f.roleless.token),
          contentType: contentTypeArb,
          body: fc.oneof(
            { weight: 8, arbitrary: mutatedJson(toJson(template ?? {}), FIELD_NAMES).map(jsonText) },
            { weight: 2, arbitrary: jsonArb(FIELD_NAMES).map(jsonText) },
            { weight: 1, arbitrary: deepJson },
            { weight: 1, arbitrary: hostileString },
          ),
        });
      });
      await fuzz(
        fc.asyncProperty(request, async ({ route, id, auth, contentType, body }) => {
          let req = t
            .http()
            [route.verb === 'GET' ? 'get' : route.verb === 'POST' ? 'post' : 'delete'](route.path(id, f.orgId));
          if (auth !== undefined) req = req.set('Authorization', auth);
          const res = await (route.verb === 'GET' ? req : req.set('Content-Type', contentType).send(body));
          checkRestAnswer(res.status, res.text, t.logs);
          if (res.status === 200) collectSecrets(f, res.body);
        }),
        800,
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'raw HTTP: request lines, queries, header names and values, many and huge headers',
    async () => {
      const headerName = fc.oneof(
        fc.constantFrom(
          'x-request-id',
          'x-user-agent',
          'user-agent',
          'accept',
          'accept-language',
          'accept-encoding',
          'content-encoding',
          'x-forwarded-for',
          'forwarded',
          'grpc-timeout',
          'te',
          'expect',
          'if-none-match',
          'origin',
          'cookie',
          'x-captcha-token',
          'idempotency-key',
        ),
        fc.string({ minLength: 1, maxLength: 10 }).filter((s) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s)),
      );
      // anything a raw socket can carry, CR, LF and NUL included
      const rawValue = fc.oneof(
        { weight: 4, arbitrary: headerValue },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b).toString('latin1')) },
      );
      const request = fc.record({
        route: fc.constantFrom(...REST_ROUTES),
        verb: fc.oneof(
          { weight: 6, arbitrary: fc.constant('') },
          {
            weight: 1,
            arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'FOO', 'get'),
          },
        ),
        id: pathIdArb([f.userId]),
        query: fc.oneof(
          { weight: 4, arbitrary: fc.constant('') },
          { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((q) => `?${encodeURI(q)}`) },
          { weight: 1, arbitrary: fc.integer({ min: 1000, max: 40_000 }).map((n) => `?q=${'a'.repeat(n)}`) },
        ),
        headers: fc.array(fc.tuple(headerName, rawValue), { maxLength: 6 }),
        many: fc.oneof(
          { weight: 5, arbitrary: fc.constant(0) },
          { weight: 1, arbitrary: fc.integer({ min: 50, max: 2500 }) },
        ),
        auth: authArb(t.adminToken, f.roleless.token),
        chunked: fc.boolean(),
      });
      await fuzz(
        fc.asyncProperty(request, async ({ route, verb, id, query, headers, many, auth, chunked }) => {
          const body = Buffer.from(JSON.stringify(route.body(f.userId, f.orgId) ?? {}));
          const lines = [
            `${verb || route.verb} ${route.path(id, f.orgId)}${query} HTTP/1.1`,
            'Host: 127.0.0.1',
            'Connection: close',
            'Content-Type: application/json',
            ...(auth === undefined ? [] : [`Authorization: ${auth}`]),
            ...headers.map(([name, value]) => `${name}: ${value}`),
            ...Array.from({ length: many }, (_, i) => `x-filler-${i}: ${i}`),
            chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`,
          ];
          const payload = chunked ? Buffer.from(`${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`) : body;
          const answer = await rawHttp(
            httpPort(t),
            Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]),
          );
          if (verb === 'HEAD' || verb === 'OPTIONS') {
            if (answer.status >= 500) throw new Error(`REST answered ${answer.status} to ${verb}`);
            return;
          }
          checkRestAnswer(answer.status, answer.body.toString('utf8'), t.logs);
        }),
        300,
      );
    },
    FUZZ_TIMEOUT,
  );

  it('afterwards: SetPhone + VerifyPhone work on every transport, and the log holds no token or code', async () => {
    await expectStillServingAndNoLeaks(t, f);
  }, 60_000);
});
