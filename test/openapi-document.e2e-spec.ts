import { startPhoneApp } from './support/phone-api';
import { bearer, TestApp } from './support/test-app';

type Json = Record<string, any>;
const SCHEMA_REF = /^#\/components\/schemas\/\w+$/;

/** Issue 16, point 6: a document clients can be generated from, true to what the server answers. */
describe('/openapi.json for client generators', () => {
  let t: TestApp;
  let doc: Json;
  const operations = (): Array<[string, string, Json]> =>
    Object.entries<Json>(doc.paths).flatMap(([path, ops]) =>
      Object.entries<Json>(ops).map(([method, op]): [string, string, Json] => [method, path, op]),
    );
  const example = (path: string, method: string, status: string, name: string) =>
    doc.paths[path][method].responses[status].content['application/json'].examples[name].value;

  beforeAll(async () => {
    t = await startPhoneApp('sqlite');
    doc = (await t.http().get('/openapi.json').expect(200)).body;
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('names every operation <Service>_<Method> as ZITADEL does, the health check Health_Check', () => {
    const ids = operations().map(([, , op]) => op.operationId as string);
    expect(ids).toEqual(expect.arrayContaining(['UserService_VerifyPhone', 'OrganizationService_AddOrganization']));
    expect(doc.paths['/healthz'].get.operationId).toBe('Health_Check');
    for (const id of ids) expect(id).toMatch(/^(UserService|OrganizationService|Health)_[A-Z][A-Za-z]+$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives every request body and every answer a named schema in components', () => {
    for (const [method, path, op] of operations()) {
      const body = op.requestBody?.content['application/json'].schema;
      if (body)
        expect({ method, path, ref: body.$ref }).toEqual({ method, path, ref: expect.stringMatching(SCHEMA_REF) });
      const ok = op.responses['200'].content['application/json'].schema;
      expect({ method, path, ref: ok.$ref }).toEqual({ method, path, ref: expect.stringMatching(SCHEMA_REF) });
      expect(doc.components.schemas[ok.$ref.split('/').pop()].properties).toBeDefined();
    }
    const setPhone = doc.components.schemas.SetPhoneResponseDto;
    expect(setPhone).toMatchObject({
      properties: { details: { $ref: '#/components/schemas/DetailsDto' }, verificationCode: { type: 'string' } },
      required: ['details'],
    });
    expect(doc.components.schemas.DetailsDto.properties.changeDate).toMatchObject({
      type: 'string',
      format: 'date-time',
    });
    expect(doc.components.schemas.UserDto.properties.state.enum).toContain('USER_STATE_ACTIVE');
  });

  it('has one error schema, referenced by every error response', () => {
    expect(doc.components.schemas.ErrorBody).toMatchObject({
      properties: { code: { type: 'integer' }, message: { type: 'string' }, details: { type: 'array' } },
      required: ['code', 'message', 'details'],
    });
    const kinds = doc.components.schemas.ErrorBody.properties.details.items.oneOf.map((s: Json) => s.$ref);
    expect(kinds).toEqual(
      ['ErrorDetail', 'BadRequest', 'ErrorInfo', 'RetryInfo'].map((n) => `#/components/schemas/${n}`),
    );
    for (const [method, path, op] of operations())
      for (const [status, response] of Object.entries<Json>(op.responses).filter(([s]) => s !== '200'))
        expect({ method, path, status, schema: response.content['application/json'].schema }).toEqual({
          method,
          path,
          status,
          schema: { $ref: '#/components/schemas/ErrorBody' },
        });
    expect(JSON.stringify(doc).split('"gRPC status code"')).toHaveLength(2);
  });

  it('declares Retry-After on 429 and 503, WWW-Authenticate on 401, and the 503 of /healthz', () => {
    for (const [, , op] of operations()) {
      if (op.responses['401']) expect(Object.keys(op.responses['401'].headers)).toEqual(['WWW-Authenticate']);
      if (op.responses['429']) expect(Object.keys(op.responses['429'].headers)).toEqual(['Retry-After']);
      // the probes' 503 says the service is not ready; it has no time to retry after
      if (!op.operationId.startsWith('Health_'))
        expect(Object.keys(op.responses['503'].headers)).toEqual(['Retry-After']);
    }
    expect(Object.keys(doc.paths['/healthz'].get.responses).sort()).toEqual(['200', '503']);
    expect(Object.keys(doc.paths['/readyz'].get.responses).sort()).toEqual(['200', '503']);
    expect(Object.keys(doc.paths['/livez'].get.responses)).toEqual(['200']);
  });

  it('says the bearer token is a personal access token by default and where the first one is', () => {
    const scheme = doc.components.securitySchemes.bearer;
    expect(scheme.bearerFormat).not.toBe('JWT');
    expect(scheme.description).toContain('FIRST_INSTANCE_PAT_PATH');
    expect(scheme.description).toContain('./data/admin.pat');
  });

  it('shows the bodies and headers the server answers', async () => {
    const noToken = await t.http().post('/v2/users/1/phone/verify').send({ verificationCode: '1' }).expect(401);
    expect(noToken.headers['www-authenticate']).toBe('Bearer');
    expect(noToken.body).toEqual(example('/v2/users/{userId}/phone/verify', 'post', '401', 'noToken'));
    const unknownToken = await t
      .http()
      .post('/v2/users/1/phone/verify')
      .set(bearer('unknown'))
      .send({ verificationCode: '1' })
      .expect(401);
    expect(unknownToken.body).toEqual(example('/v2/users/{userId}/phone/verify', 'post', '401', 'token'));

    const missing = await t
      .http()
      .post('/v2/users/69629023906488334/phone/verify')
      .set(bearer(t.adminToken))
      .send({ verificationCode: '123456' })
      .expect(404);
    expect(missing.body).toEqual(example('/v2/users/{userId}/phone/verify', 'post', '404', 'userMissing'));

    const noUser = await t.http().get('/v2/users/69629023906488334').set(bearer(t.adminToken)).expect(404);
    expect(noUser.body).toEqual(example('/v2/users/{userId}', 'get', '404', 'user'));
  });
});
