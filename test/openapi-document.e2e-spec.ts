import { createHuman, createMachineWithToken } from './support/factories';
import { startPhoneApp } from './support/phone-api';
import { bearer, TestApp } from './support/test-app';

type Json = Record<string, any>;
const SCHEMA_REF = /^#\/components\/schemas\/\w+$/;
/** What the request examples name: an organization, and a number whose code is fixed (SMS_TEST_NUMBERS). */
const EXAMPLE_ORG = '69629023906488334';
const EXAMPLE_PHONE = '+41791234567';

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
    t = await startPhoneApp('sqlite', { SMS_TEST_NUMBERS: `${EXAMPLE_PHONE}=123456` });
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

  /**
   * Issue 29, point 6: what Swagger UI puts in "Try it out" is a request the app carries out. Each
   * body has named examples (a sample built from the schema would set every member of a oneof),
   * and each example, sent as it is on a user in the state its method needs, answers 200.
   */
  it('gives every request body examples, and each one is carried out (200)', async () => {
    await t
      .http()
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .send({ name: 'Examples', organizationId: EXAMPLE_ORG })
      .expect(200);
    // the user in the path: a machine user for its tokens, a human with a pending code for the phone methods
    const subject = async (operationId: string) => {
      if (operationId === 'UserService_AddPersonalAccessToken')
        return (await createMachineWithToken(t, EXAMPLE_ORG)).userId;
      if (operationId === 'UserService_SetPhone') return (await createHuman(t, { orgId: EXAMPLE_ORG })).userId;
      return (await createHuman(t, { orgId: EXAMPLE_ORG, phone: EXAMPLE_PHONE, phoneMode: 'returnCode' })).userId;
    };
    const answers: Json[] = [];
    for (const [method, path, op] of operations()) {
      const body = op.requestBody?.content['application/json'];
      if (!body) continue;
      const names = Object.keys(body.examples ?? {});
      expect({ operation: op.operationId, examples: names.length > 0 }).toEqual({
        operation: op.operationId,
        examples: true,
      });
      for (const name of names) {
        const url = path.includes('{userId}') ? path.replace('{userId}', await subject(op.operationId)) : path;
        const res = await (t.http() as Json)[method](url).set(bearer(t.adminToken)).send(body.examples[name].value);
        answers.push({
          example: `${op.operationId} ${name}`,
          status: res.status,
          body: res.status === 200 ? {} : res.body,
        });
      }
    }
    expect(answers).toEqual(answers.map(({ example }) => ({ example, status: 200, body: {} })));
    expect(answers.map((a) => a.example)).toEqual(
      expect.arrayContaining([
        'UserService_SetPhone sendCode',
        'UserService_SetPhone returnCode',
        'UserService_SetPhone isVerified',
        'UserService_ResendPhoneCode sendCode',
        'UserService_VerifyPhone code',
        'UserService_AddHumanUser sendCodes',
        'OrganizationService_AddOrganization alone',
      ]),
    );
  });

  /** The properties a 200 schema requires that the answer lacks, by path ("createdAdmins", "user.loginNames"). */
  function missingRequired(schema: Json, value: unknown, at = ''): string[] {
    if (schema.$ref) return missingRequired(doc.components.schemas[schema.$ref.split('/').pop()], value, at);
    if (schema.allOf) return schema.allOf.flatMap((part: Json) => missingRequired(part, value, at));
    if (Array.isArray(value))
      return schema.items ? value.flatMap((item, i) => missingRequired(schema.items, item, `${at}[${i}]`)) : [];
    if (value === null || typeof value !== 'object' || !schema.properties) return [];
    const answer = value as Json;
    const name = (key: string) => (at ? `${at}.${key}` : key);
    return [
      ...(schema.required ?? []).filter((key: string) => !(key in answer)).map(name),
      ...Object.entries<Json>(schema.properties)
        .filter(([key]) => key in answer)
        .flatMap(([key, property]) => missingRequired(property, answer[key], name(key))),
    ];
  }

  // issue 29, point 6: protobuf JSON leaves out empty lists, empty strings, false and 0
  it('requires no field that an answer leaves out when it is empty (createdAdmins, …)', async () => {
    const admin = () => bearer(t.adminToken);
    const calls: Array<[string, string, () => Promise<{ status: number; body: unknown }>]> = [];
    const call = (method: string, template: string, send: () => Promise<{ status: number; body: unknown }>) =>
      calls.push([method, template, send]);
    const org = (await t.http().post('/v2/organizations').set(admin()).send({ name: 'Alone' }).expect(200)).body;
    expect(org.createdAdmins).toBeUndefined();
    const machine = await createMachineWithToken(t, org.organizationId);
    const human = await createHuman(t, { orgId: org.organizationId });
    const phoned = await createHuman(t, { orgId: org.organizationId, phone: EXAMPLE_PHONE, phoneMode: 'returnCode' });
    call('post', '/v2/organizations', () => t.http().post('/v2/organizations').set(admin()).send({ name: 'Bare' }));
    call('post', '/v2/users/human', () =>
      t
        .http()
        .post('/v2/users/human')
        .set(admin())
        .send({ profile: { givenName: 'A', familyName: 'B' }, email: { email: 'a.b@example.com' } }),
    );
    call('post', '/v2/users/new', () =>
      t
        .http()
        .post('/v2/users/new')
        .set(admin())
        .send({ organizationId: org.organizationId, machine: { name: 'bare' } }),
    );
    for (const userId of [machine.userId, human.userId, phoned.userId])
      call('get', '/v2/users/{userId}', () => t.http().get(`/v2/users/${userId}`).set(admin()));
    call('post', '/v2/users/{userId}/pats', () => t.http().post(`/v2/users/${machine.userId}/pats`).set(admin()));
    call('post', '/v2/users/{userId}/phone', () =>
      t.http().post(`/v2/users/${human.userId}/phone`).set(admin()).send({ phone: EXAMPLE_PHONE }),
    );
    call('post', '/v2/users/{userId}/phone/resend', () =>
      t.http().post(`/v2/users/${human.userId}/phone/resend`).set(admin()),
    );
    call('post', '/v2/users/{userId}/phone/verify', () =>
      t.http().post(`/v2/users/${human.userId}/phone/verify`).set(admin()).send({ verificationCode: '123456' }),
    );
    call('delete', '/v2/users/{userId}/phone', () => t.http().delete(`/v2/users/${human.userId}/phone`).set(admin()));
    for (const change of ['deactivate', 'reactivate', 'lock', 'unlock'])
      call('post', `/v2/users/{userId}/${change}`, () =>
        t.http().post(`/v2/users/${machine.userId}/${change}`).set(admin()),
      );
    call('delete', '/v2/users/{userId}', () => t.http().delete(`/v2/users/${machine.userId}`).set(admin()));
    for (const probe of ['/healthz', '/readyz', '/livez']) call('get', probe, () => t.http().get(probe));

    const documented = new Set(operations().map(([method, path]) => `${method} ${path}`));
    for (const [method, template, send] of calls) {
      const res = await send();
      expect({ method, template, status: res.status }).toEqual({ method, template, status: 200 });
      const schema = doc.paths[template][method].responses['200'].content['application/json'].schema;
      expect({ method, template, missing: missingRequired(schema, res.body) }).toEqual({
        method,
        template,
        missing: [],
      });
      documented.delete(`${method} ${template}`);
    }
    // every operation of the document was answered once
    expect([...documented]).toEqual([]);
  });
});
