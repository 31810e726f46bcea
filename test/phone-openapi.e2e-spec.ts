import { DATABASES, TestApp } from './support/test-app';
import { startPhoneApp } from './support/phone-api';

/**
 * `sends`: the route may send a code, so it reads x-captcha-token (docs/pre-send-checks.md) and
 * Idempotency-Key, with its 409 and 422 (docs/idempotency.md)
 */
const ROUTES = [
  { path: '/v2/users/{userId}/phone', method: 'post', operationId: 'UserService_SetPhone', sends: true },
  { path: '/v2/users/{userId}/phone/resend', method: 'post', operationId: 'UserService_ResendPhoneCode', sends: true },
  { path: '/v2/users/{userId}/phone/verify', method: 'post', operationId: 'UserService_VerifyPhone', sends: false },
  { path: '/v2/users/{userId}/phone', method: 'delete', operationId: 'UserService_RemovePhone', sends: false },
] as const;

/** Issue 3, point 9: the four phone routes in /openapi.json; Swagger UI at /docs; both public. */
describe.each(DATABASES)('phone OpenAPI document (%s)', (db) => {
  let t: TestApp;
  let doc: Record<string, any>;

  beforeAll(async () => {
    t = await startPhoneApp(db);
    const res = await t.http().get('/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.body;
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  const schemaOf = (ref: { $ref?: string }) => doc.components.schemas[ref.$ref!.replace('#/components/schemas/', '')];
  const operation = (path: string, method: string) => doc.paths[path]?.[method];

  it.each(ROUTES)('$operationId: $method $path with its responses, bearer security and path parameter', (route) => {
    const op = operation(route.path, route.method);
    expect(op).toBeDefined();
    expect(op.operationId).toBe(route.operationId);
    expect(op.summary).toEqual(expect.any(String));
    const statuses = [
      '200',
      '400',
      '401',
      '403',
      '404',
      '429',
      '503',
      'default',
      ...(route.sends ? ['409', '422'] : []),
    ];
    expect(Object.keys(op.responses).sort()).toEqual(statuses.sort());
    expect(op.security).toEqual([{ bearer: [] }]);
    expect(op.parameters).toEqual([
      expect.objectContaining({
        name: 'userId',
        in: 'path',
        required: true,
        schema: expect.objectContaining({ type: 'string' }),
      }),
      ...(route.sends
        ? [
            expect.objectContaining({
              name: 'x-captcha-token',
              in: 'header',
              required: false,
              schema: { type: 'string' },
            }),
            expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }),
          ]
        : []),
    ]);
    // every error response documents the contract's body with an example "<text> (<ID>)"
    for (const status of statuses.filter((s) => s !== '200')) {
      const content = op.responses[status].content['application/json'];
      const examples = content.examples ? Object.values<any>(content.examples).map((e) => e.value) : [content.example];
      expect(examples.length).toBeGreaterThan(0);
      for (const example of examples) {
        const detail = example.details[0];
        expect(detail['@type']).toBe('type.googleapis.com/zitadel.v1.ErrorDetail');
        expect(example.message).toBe(`${detail.message} (${detail.id})`);
      }
    }
    expect(op.responses['200'].content['application/json'].example.details).toEqual({
      sequence: '2',
      changeDate: '2024-11-22T16:27:04.996Z',
      resourceOwner: '69629023906488334',
    });
  });

  it('documents the catalogue IDs of each route', () => {
    const ids = (path: string, method: string) =>
      Object.values<any>(operation(path, method).responses)
        .flatMap((r) => Object.values<any>(r.content?.['application/json']?.examples ?? {}))
        .map((e) => e.value.details[0].id);
    expect(ids('/v2/users/{userId}/phone', 'post')).toEqual(
      expect.arrayContaining(['PHONE-so0wa', 'COMMAND-Uch5e', 'COMMAND-ieJ2e', 'AUTH-7fs1e', 'AUTH-AWfge']),
    );
    expect(ids('/v2/users/{userId}/phone/resend', 'post')).toEqual(
      expect.arrayContaining(['PHONE-5xrra88eq8', 'PHONE-ratelimit']),
    );
    expect(ids('/v2/users/{userId}/phone/verify', 'post')).toEqual(
      expect.arrayContaining(['COMMAND-eis9R', 'CODE-QvUQ4P', 'COMMAND-2M9fs', 'PHONE-attempts', 'PHONE-ratelimit']),
    );
    expect(ids('/v2/users/{userId}/phone', 'delete')).toEqual(expect.arrayContaining(['COMMAND-ieJ2e']));
  });

  it('request bodies carry the validation rules; userId is a path parameter, not a body field', () => {
    const verify = schemaOf(
      operation('/v2/users/{userId}/phone/verify', 'post').requestBody.content['application/json'].schema,
    );
    expect(verify.properties.verificationCode).toMatchObject({ type: 'string', minLength: 1, maxLength: 20 });
    expect(verify.required).toEqual(['verificationCode']);
    expect(verify.properties.userId).toBeUndefined();

    const set = schemaOf(operation('/v2/users/{userId}/phone', 'post').requestBody.content['application/json'].schema);
    expect(set.properties.phone).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });
    expect(Object.keys(set.properties).sort()).toEqual(['isVerified', 'phone', 'returnCode', 'sendCode']);
    expect(set.required).toEqual(['phone']);

    const resend = schemaOf(
      operation('/v2/users/{userId}/phone/resend', 'post').requestBody.content['application/json'].schema,
    );
    expect(Object.keys(resend.properties).sort()).toEqual(['returnCode', 'sendCode']);

    const remove = operation('/v2/users/{userId}/phone', 'delete');
    expect(remove.requestBody?.required ?? false).toBe(false);
  });

  it('declares bearer authentication', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('/docs serves Swagger UI without a token', async () => {
    const res = await t.http().get('/docs').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<title>Swagger UI</title>');
    const init = await t.http().get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toContain('"operationId": "UserService_VerifyPhone"');
  });
});
