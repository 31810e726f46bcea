import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { bearer, DATABASES, dataSourceOf, Db, startApp, TestApp } from './support/test-app';
import {
  errorBody,
  PERMISSION_DENIED,
  UNAUTHENTICATED,
  USER_NOT_FOUND,
  validationBody,
  violatedFields,
} from './support/wire';

const ROUTE_NOT_FOUND = errorBody(5, 'API-n0tfd', 'Route not found');
const METHOD_NOT_ALLOWED = errorBody(12, 'API-n0method', 'Method not allowed on this path, see the Allow header');
const UNSUPPORTED_MEDIA_TYPE = errorBody(3, 'API-unsup', 'Unsupported content type, send application/json');

describe.each(DATABASES)('HTTP errors (%s)', (db: Db) => {
  let t: TestApp;
  let orgA: string;
  let roleless: { userId: string; token: string };

  beforeAll(async () => {
    t = await startApp(db);
    orgA = await createOrg(t);
    roleless = await createMachineWithToken(t, orgA);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it.each([
    ['GET', '/v2/nothing-here'],
    ['POST', '/v2/users/1/explode'],
    ['PUT', '/v2/users'],
    ['DELETE', '/v2/users/1/phone/verify/2'],
    ['GET', '/'],
  ])('answers an unknown path %s %s with 404 code 5 and the error body, token or not', async (method, path) => {
    const verb = method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    const anonymous = await t.http()[verb](path).expect(404);
    expect(anonymous.body).toEqual(ROUTE_NOT_FOUND);
    const authenticated = await t.http()[verb](path).set(bearer(t.adminToken)).expect(404);
    expect(authenticated.body).toEqual(ROUTE_NOT_FOUND);
  });

  // issue 29, point 6: the path is right, the method is not
  it.each([
    ['PUT', '/v2/users/1', 'DELETE, GET, HEAD'],
    ['PATCH', '/v2/organizations', 'POST'],
    ['GET', '/v2/users/1/phone/verify', 'POST'],
    ['GET', '/V2/Users/1/Phone/', 'DELETE, POST'],
    ['POST', '/v2/users/1', 'DELETE, GET, HEAD'],
    ['DELETE', '/healthz', 'GET, HEAD'],
    ['POST', '/openapi.json', 'GET, HEAD'],
  ])('answers %s %s with 405, Allow: %s and the error body, token or not', async (method, path, allow) => {
    const verb = method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    for (const token of [undefined, t.adminToken]) {
      const req = t.http()[verb](path);
      if (token) req.set(bearer(token));
      const res = await req.expect(405);
      expect(res.headers.allow).toBe(allow);
      expect(res.body).toEqual(METHOD_NOT_ALLOWED);
    }
  });

  it('answers HEAD on a POST route with 405 and no body', async () => {
    const res = await t.http().head('/v2/organizations').expect(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.text ?? '').toBe('');
  });

  describe('a body that is not JSON → 415 (issue 29, point 6)', () => {
    const org = () => t.http().post('/v2/organizations').set(bearer(t.adminToken));

    it.each([
      ['application/x-www-form-urlencoded', 'name=Form+Inc'],
      [
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nForm\r\n--x--\r\n',
      ],
      ['text/plain', '{"name": "Text Inc"}'],
      ['application/xml', '<name>XML Inc</name>'],
    ])('%s', async (type, body) => {
      const res = await org().set('Content-Type', type).send(body).expect(415);
      expect(res.body).toEqual(UNSUPPORTED_MEDIA_TYPE);
      expect(res.headers.accept).toBe('application/json');
    });

    it('with no content type at all', async () => {
      const res = await t
        .http()
        .post('/v2/organizations')
        .set(bearer(t.adminToken))
        .serialize((body: string) => body)
        .send('{"name": "Untyped Inc"}')
        .unset('Content-Type')
        .expect(415);
      expect(res.body).toEqual(UNSUPPORTED_MEDIA_TYPE);
    });

    it('also where the body is optional: a form never passes for an empty request', async () => {
      const { userId } = await createHuman(t, { orgId: orgA });
      await t
        .http()
        .delete(`/v2/users/${userId}`)
        .set(bearer(t.adminToken))
        .type('form')
        .send({ force: 'yes' })
        .expect(415);
      // the user is still there
      await t.http().get(`/v2/users/${userId}`).set(bearer(t.adminToken)).expect(200);
    });

    it('and a charset JSON is not read in', async () => {
      const res = await org().set('Content-Type', 'application/json; charset=latin1').send('{"name": "x"}').expect(415);
      expect(res.body).toEqual(UNSUPPORTED_MEDIA_TYPE);
    });

    it('accepts JSON with a UTF-8 charset, and requests without a body', async () => {
      await org()
        .set('Content-Type', 'application/json; charset=utf-8')
        .send(JSON.stringify({ name: `Charset ${db}` }))
        .expect(200);
      await org()
        .set('Content-Type', 'Application/JSON;charset=UTF-8')
        .send(JSON.stringify({ name: `Case ${db}` }))
        .expect(200);
      const { userId } = await createHuman(t, { orgId: orgA });
      // no body, or an empty one, whatever type it names
      await t.http().post(`/v2/users/${userId}/lock`).set(bearer(t.adminToken)).expect(200);
      await t.http().post(`/v2/users/${userId}/unlock`).set(bearer(t.adminToken)).type('form').send('').expect(200);
      await t.http().delete(`/v2/users/${userId}`).set(bearer(t.adminToken)).expect(200);
    });
  });

  it.each(['{"name": ', '{name: "x"}', '{"name": "x"}}', 'nul'])(
    'answers malformed JSON (%s) with 400 code 3',
    async (raw) => {
      const res = await t
        .http()
        .post('/v2/organizations')
        .set(bearer(t.adminToken))
        .set('Content-Type', 'application/json')
        .send(raw)
        .expect(400);
      expect(res.body).toEqual(validationBody(['body']));
      expect(violatedFields(res.body)).toEqual(['body']);
    },
  );

  it('answers a body over 64 KiB with 400 or 413 and the error body, and accepts one just under', async () => {
    const big = await t
      .http()
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .send({ name: 'x', filler: 'y'.repeat(65 * 1024) });
    expect([400, 413]).toContain(big.status);
    expect(big.body).toEqual(errorBody(3, 'API-t00big', 'Request body is too large'));

    // unknown fields are ignored: just under the limit is an ordinary request
    const under = await t
      .http()
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .send({ name: `Under the limit ${db}`, filler: 'y'.repeat(63 * 1024) })
      .expect(200);
    expect(under.body.organizationId).toMatch(/^\d+$/);
  });

  it('answers an unexpected error with 500 code 13 and a correlation id that the log has with the stack', async () => {
    const { userId } = await createHuman(t, { orgId: orgA });
    const ds = dataSourceOf(t);
    // an honest database failure, in the middle of a change
    if (db === 'postgres') {
      await ds.query(
        `ALTER TABLE events ADD CONSTRAINT test_refuse_deactivation CHECK (type <> 'user.deactivated') NOT VALID`,
      );
    } else {
      await ds.query(`CREATE TRIGGER test_refuse_deactivation BEFORE INSERT ON events
                      WHEN NEW.type = 'user.deactivated' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    }
    let res;
    try {
      res = await t
        .http()
        .post(`/v2/users/${userId}/deactivate`)
        .set(bearer(t.adminToken))
        .set('x-request-id', `deactivate-${db}`)
        .send({})
        .expect(500);
    } finally {
      await ds.query(
        db === 'postgres'
          ? 'ALTER TABLE events DROP CONSTRAINT test_refuse_deactivation'
          : 'DROP TRIGGER test_refuse_deactivation',
      );
    }

    const correlationId = res.body.details[1]?.metadata?.correlationId as string;
    expect(correlationId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(res.body).toEqual({
      code: 13,
      message: `Internal error, correlation id ${correlationId} (INTERNAL)`,
      details: [
        {
          '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail',
          id: 'INTERNAL',
          message: `Internal error, correlation id ${correlationId}`,
        },
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'INTERNAL',
          domain: 'phone-verify',
          metadata: { correlationId },
        },
      ],
    });
    // nothing of the internals reaches the client
    expect(JSON.stringify(res.body)).not.toMatch(/refused|test_refuse|constraint|events|SQLITE|stack/i);

    const logged = t.logs
      .map(
        (line) =>
          JSON.parse(line) as { level: number; correlationId?: string; reqId?: string; err?: { stack?: string } },
      )
      .filter((line) => line.correlationId === correlationId);
    expect(logged).toHaveLength(1);
    expect(logged[0].level).toBe(50);
    // the error's line names the request; the request's own line is at error level too
    expect(logged[0].reqId).toBe(`deactivate-${db}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const requestLine = t.logs.map((line) => JSON.parse(line)).find((line) => line.req?.id === `deactivate-${db}`);
    expect(requestLine).toMatchObject({ level: 50, msg: 'request errored', res: { statusCode: 500 } });
    expect(logged[0].err?.stack).toMatch(db === 'postgres' ? /test_refuse_deactivation/ : /refused by the test/);
    expect(logged[0].err?.stack).toContain('\n    at ');

    // the change was rolled back with its events
    const read = await t.http().get(`/v2/users/${userId}`).set(bearer(t.adminToken)).expect(200);
    expect([read.body.user.state, read.body.details.sequence]).toEqual(['USER_STATE_ACTIVE', '1']);
  });

  describe('check order of contract §7: 401 → 400 → 404 (also a user it may not read) → 403', () => {
    const endpoints: Array<[string, 'get' | 'post' | 'delete', (id: string) => string]> = [
      ['GetUserByID', 'get', (id) => `/v2/users/${id}`],
      ['DeactivateUser', 'post', (id) => `/v2/users/${id}/deactivate`],
      ['ReactivateUser', 'post', (id) => `/v2/users/${id}/reactivate`],
      ['LockUser', 'post', (id) => `/v2/users/${id}/lock`],
      ['UnlockUser', 'post', (id) => `/v2/users/${id}/unlock`],
      ['DeleteUser', 'delete', (id) => `/v2/users/${id}`],
      ['AddPersonalAccessToken', 'post', (id) => `/v2/users/${id}/pats`],
    ];

    it.each(endpoints)('%s', async (_, method, path) => {
      const other = await createMachineWithToken(t, orgA);
      const viewer = await createMachineWithToken(t, orgA, [{ scope: orgA, role: 'ORG_OWNER_VIEWER' }]);
      const call = (id: string, token?: string) => {
        const req = t.http()[method](path(id));
        if (token) req.set(bearer(token));
        return method === 'get' ? req : req.send({});
      };
      // a bad token wins over a bad request
      expect((await call('9'.repeat(201), 'not-a-token').expect(401)).body).toEqual(UNAUTHENTICATED);
      // a bad request wins over a missing user
      expect((await call('9'.repeat(201), roleless.token).expect(400)).body).toEqual(validationBody(['userId']));
      // a missing user wins over a missing permission
      expect((await call('404404', roleless.token).expect(404)).body).toEqual(USER_NOT_FOUND);
      // a user the caller may not read is a missing user to it (issue 26, finding 8)
      expect((await call(other.userId, roleless.token).expect(404)).body).toEqual(USER_NOT_FOUND);
      // one it may read but not change: the permission is missing
      if (method !== 'get')
        expect((await call(other.userId, viewer.token).expect(403)).body).toEqual(PERMISSION_DENIED);
    });
  });
});
