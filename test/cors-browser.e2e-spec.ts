import { create, fromBinary, toBinary, toJson } from '@bufbuild/protobuf';
import type { JsonObject } from '@bufbuild/protobuf';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/browser';
import type { Response } from 'supertest';
import { closeServer } from './support/fake-http';
import { createHuman } from './support/factories';
import { startApp, TestApp } from './support/test-app';
import { httpPort, messageSchema, protoRegistry, statusJson } from './support/transports';
import { GRPC_WEB, UNAUTHENTICATED, USER_NOT_FOUND } from './support/wire';

/**
 * CORS on every route of the HTTP port (issue 25, point 4), as a browser lives it: a page served
 * from another origin (127.0.0.1 on another port) calls REST, Connect and gRPC-web with fetch in a
 * real headless Chromium (Debian's, see .ci/run) and reads the answers and the errors, headers
 * included. Chromium preflights each of these calls (Authorization, a JSON or gRPC-web content
 * type, Connect's and gRPC-web's headers) and blocks the call unless the preflight allows it.
 * Then the same contract header by header with supertest: the preflight's 204 and its lists, the
 * headers answers expose, and an origin list (CORS_ALLOWED_ORIGINS, else GRPC_WEB_CORS_ORIGINS).
 */

const GET_USER = '/zitadel.user.v2.UserService/GetUserByID';
/** A well-formed user id nobody has. */
const UNKNOWN_USER = '999999999999999999';
/** The request headers the transports use (issue 25, point 4), all of which a preflight must allow. */
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'x-grpc-web',
  'x-user-agent',
  'grpc-timeout',
  'connect-protocol-version',
  'connect-timeout-ms',
  'connect-accept-encoding',
  'x-zitadel-orgid',
  'x-request-id',
  'x-captcha-token',
  'idempotency-key',
  'accept',
];
const EXPOSED_HEADERS = [
  'grpc-status',
  'grpc-message',
  'grpc-status-details-bin',
  'retry-after',
  'www-authenticate',
  'x-request-id',
  'idempotent-replayed',
];

jest.setTimeout(30_000);

/** What fetch gave the page: the status, the headers JavaScript may read, and the body's bytes; or fetch's error. */
type Fetched =
  { status: number; headers: Record<string, string>; body: number[] } | { error: { name: string; message: string } };

interface FetchInit {
  method: string;
  headers?: Record<string, string>;
  /** text, or bytes as an array (what page.evaluate can carry) */
  body?: string | number[];
}

/** fetch() run by the page itself, so Chromium applies CORS to it as to any script on that origin. */
function fetchInPage(page: Page, url: string, init: FetchInit): Promise<Fetched> {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const res = await fetch(url, {
          method: init.method,
          headers: init.headers,
          body: Array.isArray(init.body) ? new Uint8Array(init.body) : init.body,
          // bounded: a call that hangs fails the test instead of running into jest's timeout
          signal: AbortSignal.timeout(10_000),
        });
        const headers: Record<string, string> = {};
        res.headers.forEach((value, name) => (headers[name] = value));
        return { status: res.status, headers, body: Array.from(new Uint8Array(await res.arrayBuffer())) };
      } catch (error) {
        return { error: { name: (error as Error).name, message: (error as Error).message } };
      }
    },
    { url, init },
  );
}

function answered(fetched: Fetched): { status: number; headers: Record<string, string>; body: number[] } {
  if ('error' in fetched)
    throw new Error(`the browser refused the call: ${fetched.error.name}: ${fetched.error.message}`);
  return fetched;
}

const jsonOf = (fetched: Fetched) => JSON.parse(Buffer.from(answered(fetched).body).toString('utf8'));

/** A gRPC-web request body: one uncompressed data frame (5-byte header) holding GetUserByIDRequest. */
function getUserFrame(userId: string): number[] {
  const schema = messageSchema('zitadel.user.v2.GetUserByIDRequest');
  const message = Buffer.from(toBinary(schema, create(schema, { userId })));
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Array.from(Buffer.concat([header, message]));
}

/** A gRPC-web answer's frames: the messages, and the trailers (from the trailer frame, else from the headers). */
function grpcWebAnswer(fetched: Fetched) {
  const { status, headers, body: bytes } = answered(fetched);
  const body = Buffer.from(bytes);
  const messages: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let offset = 0;
  while (offset + 5 <= body.length) {
    const end = offset + 5 + body.readUInt32BE(offset + 1);
    const payload = body.subarray(offset + 5, end);
    if (body[offset] & 0x80) {
      for (const line of payload.toString('utf8').split('\r\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    } else messages.push(payload);
    offset = end;
  }
  expect(offset).toBe(body.length);
  // a trailers-only answer carries its status in the headers, which the browser reads only if exposed
  for (const key of ['grpc-status', 'grpc-message', 'grpc-status-details-bin']) {
    if (trailers[key] === undefined && headers[key] !== undefined) trailers[key] = headers[key];
  }
  return { status, headers, messages, trailers };
}

/** A tiny page on its own origin: http://127.0.0.1:<port>. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html><head><title>another origin</title></head><body>client</body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The request log's lines for preflights (OPTIONS) of `path`: their status codes. */
function preflightsLogged(t: TestApp, path: string): number[] {
  return t.logs
    .map((line) => JSON.parse(line) as { req?: { method: string; url: string }; res?: { statusCode: number } })
    .filter((line) => line.req?.method === 'OPTIONS' && line.req.url === path)
    .map((line) => line.res!.statusCode);
}

const list = (header: string | undefined) => (header ?? '').split(',').map((h) => h.trim().toLowerCase());
const corsHeadersOf = (res: Response) => Object.keys(res.headers).filter((h) => h.startsWith('access-control-'));

describe('CORS in a real browser and on the wire (sqlite)', () => {
  /** the default: any origin */
  let open: TestApp;
  /** CORS_ALLOWED_ORIGINS: http://allowed.example and the allowed page's origin (GRPC_WEB_CORS_ORIGINS set, and overridden) */
  let listed: TestApp;
  /** only GRPC_WEB_CORS_ORIGINS: it applies to every route */
  let legacy: TestApp;
  let allowedPage: { server: Server; origin: string };
  let otherPage: { server: Server; origin: string };
  let browser: Browser | undefined;
  /** a page on allowedPage's origin, in a browser context of its own (so with an empty preflight cache) */
  let page: Page;
  let userId: string;
  let listedUserId: string;
  let openApi: string;
  let listedApi: string;

  beforeAll(async () => {
    [allowedPage, otherPage] = await Promise.all([pageServer(), pageServer()]);
    [open, listed, legacy] = await Promise.all([
      startApp('sqlite'),
      startApp('sqlite', {
        // a trailing slash and capitals as people write them: origins are compared as browsers send them
        CORS_ALLOWED_ORIGINS: `http://Allowed.example/, ${allowedPage.origin}`,
        GRPC_WEB_CORS_ORIGINS: 'http://legacy.example',
      }),
      startApp('sqlite', { GRPC_WEB_CORS_ORIGINS: 'http://legacy.example' }),
    ]);
    openApi = `http://127.0.0.1:${httpPort(open)}`;
    listedApi = `http://127.0.0.1:${httpPort(listed)}`;
    ({ userId } = await createHuman(open, { phone: '+41791234567', phoneMode: 'isVerified' }));
    ({ userId: listedUserId } = await createHuman(listed));

    // a cold Chromium start on a busy 2-core machine has taken more than 15 s
    // no skip: CI installs Debian's chromium before the tests run (see .ci/run)
    browser = await launchChromium();
  }, 120_000);

  /** A page on `origin`, in a new browser context: Chromium's preflight cache starts empty. */
  async function pageOn(origin: string): Promise<Page> {
    const context: BrowserContext = await browser!.newContext();
    context.setDefaultTimeout(10_000);
    const opened = await context.newPage();
    await opened.goto(`${origin}/`);
    await expect(opened.evaluate(() => location.origin)).resolves.toBe(origin);
    return opened;
  }

  afterAll(async () => {
    await browser?.close();
    await Promise.all([open?.close(), listed?.close(), legacy?.close()]);
    await Promise.all([allowedPage, otherPage].filter(Boolean).map(({ server }) => closeServer(server)));
  }, 60_000);

  describe('a page on another origin (any origin allowed, the default)', () => {
    beforeEach(async () => {
      page = await pageOn(allowedPage.origin);
    });

    it('REST: GetUserByID with a bearer token, then a 404 and a 401 with their bodies and WWW-Authenticate', async () => {
      const path = `/v2/users/${userId}`;
      const ok = await fetchInPage(page, `${openApi}${path}`, {
        method: 'GET',
        headers: { authorization: `Bearer ${open.adminToken}`, accept: 'application/json', 'x-request-id': 'cors-1' },
      });
      expect(answered(ok).status).toBe(200);
      expect(jsonOf(ok).user).toMatchObject({
        userId,
        human: { profile: { givenName: 'Minnie', familyName: 'Mouse' }, phone: { phone: '+41791234567' } },
      });
      // the browser asked first, and was allowed (else the call above would have failed)
      expect(preflightsLogged(open, path)).toEqual([204]);

      const missing = await fetchInPage(page, `${openApi}/v2/users/${UNKNOWN_USER}`, {
        method: 'GET',
        headers: { authorization: `Bearer ${open.adminToken}` },
      });
      expect(answered(missing).status).toBe(404);
      expect(answered(missing).headers['content-type']).toMatch(/^application\/json/);
      expect(jsonOf(missing)).toEqual(USER_NOT_FOUND);

      const denied = await fetchInPage(page, `${openApi}${path}`, {
        method: 'GET',
        headers: { authorization: 'Bearer not-a-token' },
      });
      expect(answered(denied).status).toBe(401);
      // exposed, so a script can see it is asked for a bearer token
      expect(answered(denied).headers['www-authenticate']).toBe('Bearer');
      expect(jsonOf(denied)).toEqual(UNAUTHENTICATED);
    });

    it("Connect: GetUserByID in JSON with Connect's headers, then not_found and unauthenticated as Connect error JSON", async () => {
      const headers = {
        'content-type': 'application/json',
        'connect-protocol-version': '1',
        'connect-timeout-ms': '10000',
        authorization: `Bearer ${open.adminToken}`,
      };
      const preflights = preflightsLogged(open, GET_USER).length;
      const ok = await fetchInPage(page, `${openApi}${GET_USER}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ userId }),
      });
      expect(answered(ok).status).toBe(200);
      expect(answered(ok).headers['content-type']).toBe('application/json');
      const rest = await open.http().get(`/v2/users/${userId}`).set('Authorization', `Bearer ${open.adminToken}`);
      expect(jsonOf(ok)).toEqual(rest.body);
      expect(preflightsLogged(open, GET_USER).slice(preflights)).toEqual([204]);

      const missing = await fetchInPage(page, `${openApi}${GET_USER}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ userId: UNKNOWN_USER }),
      });
      expect(answered(missing).status).toBe(404);
      const error = jsonOf(missing);
      expect(error).toEqual({
        code: 'not_found',
        message: USER_NOT_FOUND.message,
        details: [
          {
            type: 'zitadel.v1.ErrorDetail',
            value: expect.stringMatching(/^[A-Za-z0-9+/]+$/),
            debug: { id: 'QUERY-Dfbg2', message: 'User could not be found' },
          },
        ],
      });
      // value: the detail's bytes (unpadded base64), the same detail as debug shows
      const detail = messageSchema('zitadel.v1.ErrorDetail');
      expect(toJson(detail, fromBinary(detail, Buffer.from(error.details[0].value, 'base64')))).toEqual(
        error.details[0].debug,
      );

      const denied = await fetchInPage(page, `${openApi}${GET_USER}`, {
        method: 'POST',
        headers: { ...headers, authorization: 'Bearer not-a-token' },
        body: JSON.stringify({ userId }),
      });
      expect(answered(denied).status).toBe(401);
      expect(answered(denied).headers['www-authenticate']).toBe('Bearer');
      expect(jsonOf(denied)).toMatchObject({ code: 'unauthenticated', message: UNAUTHENTICATED.message });
    });

    it('gRPC-web: GetUserByID in binary frames, then NOT_FOUND read from the trailers with its details', async () => {
      const headers = {
        'content-type': GRPC_WEB,
        'x-grpc-web': '1',
        'x-user-agent': 'grpc-web-javascript/0.1',
        'grpc-timeout': '10S',
        authorization: `Bearer ${open.adminToken}`,
      };
      const preflights = preflightsLogged(open, GET_USER).length;
      const ok = grpcWebAnswer(
        await fetchInPage(page, `${openApi}${GET_USER}`, { method: 'POST', headers, body: getUserFrame(userId) }),
      );
      expect(ok.status).toBe(200);
      expect(ok.headers['content-type']).toBe(GRPC_WEB);
      expect(ok.trailers['grpc-status']).toBe('0');
      expect(ok.messages).toHaveLength(1);
      const output = messageSchema('zitadel.user.v2.GetUserByIDResponse');
      const response = toJson(output, fromBinary(output, ok.messages[0]), { registry: protoRegistry() }) as JsonObject;
      expect(response.user).toMatchObject({ userId, human: { profile: { givenName: 'Minnie' } } });
      expect(preflightsLogged(open, GET_USER).slice(preflights)).toEqual([204]);

      const missing = grpcWebAnswer(
        await fetchInPage(page, `${openApi}${GET_USER}`, { method: 'POST', headers, body: getUserFrame(UNKNOWN_USER) }),
      );
      expect(missing.status).toBe(200);
      expect(missing.messages).toEqual([]);
      expect(missing.trailers['grpc-status']).toBe('5');
      expect(decodeURIComponent(missing.trailers['grpc-message'])).toBe(USER_NOT_FOUND.message);
      expect(statusJson(Buffer.from(missing.trailers['grpc-status-details-bin'], 'base64'))).toEqual(USER_NOT_FOUND);
    });
  });

  describe('CORS_ALLOWED_ORIGINS: pages on the listed origin call, pages on any other cannot', () => {
    beforeEach(async () => {
      page = await pageOn(allowedPage.origin);
    });

    it('the listed page reads REST, Connect and gRPC-web answers', async () => {
      const authorization = `Bearer ${listed.adminToken}`;
      const rest = await fetchInPage(page, `${listedApi}/v2/users/${listedUserId}`, {
        method: 'GET',
        headers: { authorization },
      });
      expect(jsonOf(rest).user.userId).toBe(listedUserId);
      const connect = await fetchInPage(page, `${listedApi}${GET_USER}`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json', 'connect-protocol-version': '1' },
        body: JSON.stringify({ userId: listedUserId }),
      });
      expect(jsonOf(connect).user.userId).toBe(listedUserId);
      const grpcWeb = grpcWebAnswer(
        await fetchInPage(page, `${listedApi}${GET_USER}`, {
          method: 'POST',
          headers: { authorization, 'content-type': GRPC_WEB, 'x-grpc-web': '1' },
          body: getUserFrame(listedUserId),
        }),
      );
      expect(grpcWeb.trailers['grpc-status']).toBe('0');
    });

    it('a page on another origin gets TypeError from fetch, preflighted or not', async () => {
      const calls: Array<[string, FetchInit]> = [
        [`/v2/users/${listedUserId}`, { method: 'GET', headers: { authorization: `Bearer ${listed.adminToken}` } }],
        // a "simple" request: no preflight, the answer itself is withheld from the page
        [`/v2/users/${listedUserId}`, { method: 'GET' }],
        [GET_USER, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
        [
          GET_USER,
          { method: 'POST', headers: { 'content-type': GRPC_WEB, 'x-grpc-web': '1' }, body: getUserFrame('1') },
        ],
      ];
      const foreign = await pageOn(otherPage.origin);
      for (const [path, init] of calls) {
        await expect(fetchInPage(foreign, `${listedApi}${path}`, init)).resolves.toEqual({
          error: { name: 'TypeError', message: 'Failed to fetch' },
        });
      }
    });
  });

  describe('the preflight and the answers, header by header', () => {
    const preflight = (t: TestApp, path: string, origin: string, method = 'POST') =>
      t
        .http()
        .options(path)
        .set('Origin', origin)
        .set('Access-Control-Request-Method', method)
        .set('Access-Control-Request-Headers', ALLOWED_HEADERS.join(','));

    it.each([
      ['REST', '/v2/users/123', 'GET'],
      ['REST (a route that does not exist)', '/v2/nothing/here', 'DELETE'],
      ['Connect and gRPC-web', GET_USER, 'POST'],
      ['Swagger UI', '/docs', 'GET'],
    ])('%s: 204 with the methods, every transport header and Max-Age', async (_name, path, method) => {
      const res = await preflight(open, path, 'http://app.example', method);
      expect(res.status).toBe(204);
      expect(res.text ?? '').toBe('');
      // RFC 9110 §8.6: no Content-Length on a 204
      expect(res.headers['content-length']).toBeUndefined();
      expect(res.headers['access-control-allow-origin']).toBe('*');
      // any origin may call with a bearer token: no cookies, so no credentials
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(list(res.headers['access-control-allow-methods'])).toEqual(
        expect.arrayContaining(['get', 'post', 'delete']),
      );
      expect(list(res.headers['access-control-allow-headers'])).toEqual(expect.arrayContaining(ALLOWED_HEADERS));
      expect(Number(res.headers['access-control-max-age'])).toBeGreaterThanOrEqual(600);
    });

    it('answers expose the gRPC, retry and authentication headers (REST, Connect and gRPC-web)', async () => {
      const answers = [
        await open.http().get(`/v2/users/${userId}`).set('Origin', 'http://app.example'),
        await open
          .http()
          .post(GET_USER)
          .set('Origin', 'http://app.example')
          .set('Content-Type', 'application/json')
          .send({ userId }),
        await open
          .http()
          .post(GET_USER)
          .set('Origin', 'http://app.example')
          .set('Content-Type', GRPC_WEB)
          .send(Buffer.from(getUserFrame(userId))),
      ];
      expect(answers.map((res) => res.status)).toEqual([401, 401, 200]);
      for (const res of answers) {
        expect(res.headers['access-control-allow-origin']).toBe('*');
        expect(list(res.headers['access-control-expose-headers'])).toEqual(expect.arrayContaining(EXPOSED_HEADERS));
      }
    });

    it('CORS_ALLOWED_ORIGINS: a listed origin is echoed with Vary: Origin, on the preflight and on the answer', async () => {
      const pre = await preflight(listed, `/v2/users/${listedUserId}`, 'http://allowed.example', 'GET');
      expect(pre.status).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('http://allowed.example');
      expect(list(pre.headers.vary)).toContain('origin');
      expect(list(pre.headers['access-control-allow-headers'])).toEqual(expect.arrayContaining(ALLOWED_HEADERS));
      const res = await listed
        .http()
        .get(`/v2/users/${listedUserId}`)
        .set('Origin', 'http://allowed.example')
        .set('Authorization', `Bearer ${listed.adminToken}`);
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('http://allowed.example');
      expect(list(res.headers.vary)).toContain('origin');
      expect(list(res.headers['access-control-expose-headers'])).toEqual(expect.arrayContaining(EXPOSED_HEADERS));
      // the answer depends on Origin even when a request has none: a cache must not hand it to a page
      const plain = await listed.http().get(`/v2/users/${listedUserId}`);
      expect(list(plain.headers.vary)).toContain('origin');
      expect(corsHeadersOf(plain)).toEqual([]);
    });

    it.each([
      ['an origin not listed', 'http://other.example'],
      ['another port of a listed host', 'http://allowed.example:8080'],
      ['GRPC_WEB_CORS_ORIGINS, which CORS_ALLOWED_ORIGINS overrides', 'http://legacy.example'],
    ])('CORS_ALLOWED_ORIGINS: %s gets no Access-Control-* header at all', async (_name, origin) => {
      const answers = [
        await preflight(listed, `/v2/users/${listedUserId}`, origin, 'GET'),
        await preflight(listed, GET_USER, origin),
        await listed.http().get(`/v2/users/${listedUserId}`).set('Origin', origin),
        await listed.http().post(GET_USER).set('Origin', origin).set('Content-Type', 'application/json').send({}),
        await listed
          .http()
          .post(GET_USER)
          .set('Origin', origin)
          .set('Content-Type', GRPC_WEB)
          .send(Buffer.from(getUserFrame('1'))),
      ];
      for (const res of answers) expect(corsHeadersOf(res)).toEqual([]);
    });

    it('GRPC_WEB_CORS_ORIGINS alone sets the origins of every route, REST included', async () => {
      const allowed = await preflight(legacy, '/v2/users/123', 'http://legacy.example', 'GET');
      expect(allowed.status).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe('http://legacy.example');
      expect(list(allowed.headers['access-control-allow-headers'])).toEqual(expect.arrayContaining(ALLOWED_HEADERS));
      const other = await preflight(legacy, '/v2/users/123', 'http://other.example', 'GET');
      expect(corsHeadersOf(other)).toEqual([]);
    });
  });
});
