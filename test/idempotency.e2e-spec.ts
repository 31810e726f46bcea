import type { JsonObject } from '@bufbuild/protobuf';
import { randomUUID } from 'node:crypto';
import { fingerprintOf, scopeOf } from '../src/phone/idempotency/idempotency-rules';
import { IdempotentRequestEntity } from '../src/phone/idempotency/idempotent-request.entity';
import { PersonalAccessTokenEntity } from '../src/users/entities/personal-access-token.entity';
import { hashToken } from '../src/users/token.service';
import { RetentionSweeper } from '../src/phone/retention/retention-sweeper';
import { createHuman, createMachineWithToken, createOrg, randomMobile } from './support/factories';
import { outboxCount } from './support/outbox';
import { startPhoneApp } from './support/phone-api';
import { scrape, valueOf } from './support/prometheus';
import { bearer, DATABASES, dataSourceOf, Db, freePort, TestApp } from './support/test-app';
import { fromJson } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import type { Metadata } from '@grpc/grpc-js';
import {
  Caller,
  closeGrpcClients,
  connectTransport,
  grpcClients,
  grpcWebTransport,
  grpcMetadata,
  protoRegistry,
  serviceSchema,
  TRANSPORTS,
  TransportName,
  transportCaller,
} from './support/transports';
import { ERROR_DETAIL, ERROR_INFO } from './support/wire';

jest.setTimeout(60_000);

const DAY = 86_400_000;
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_INVALID_ARGUMENT = 3;

/**
 * Issue 31, point 3: Idempotency-Key (REST header, idempotency-key metadata) on SetPhone,
 * ResendPhoneCode and AddHumanUser. A repeat returns the first answer and sends nothing; the same
 * key with another request is refused; parallel repeats send once; after 24 h the key is new.
 */
describe.each(DATABASES)('idempotent sends (%s)', (db: Db) => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await startPhoneApp(db, { METRICS_PORT: String(await freePort()) });
    orgId = await createOrg(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  const key = () => ({ 'idempotency-key': randomUUID() });
  const rows = () => dataSourceOf(t).getRepository(IdempotentRequestEntity);

  describe.each(TRANSPORTS)('over %s', (transport: TransportName) => {
    let c: Caller;
    beforeAll(() => (c = transportCaller(t, transport)));
    afterAll(() => c.close());

    const setPhone = (request: JsonObject, headers: Record<string, string>, token = t.adminToken) =>
      c.call('UserService', 'SetPhone', request, token, headers);

    it('a repeated SetPhone answers the first answer and queues no second SMS', async () => {
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      const request = { userId, phone: randomMobile(), sendCode: {} };
      const first = await setPhone(request, headers);
      const repeat = await setPhone(request, headers);
      expect(first.ok).toBe(true);
      expect(repeat).toEqual(first);
      expect(await outboxCount(t, userId)).toBe(1);
    });

    it('a repeated SetPhone with returnCode returns the same code, stored sealed', async () => {
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      const request = { userId, phone: randomMobile(), returnCode: {} };
      const first = await setPhone(request, headers);
      const repeat = await setPhone(request, headers);
      expect(first).toMatchObject({ ok: true, response: { verificationCode: expect.stringMatching(/^\d{6}$/) } });
      expect(repeat).toEqual(first);
      const code = (first as unknown as { response: { verificationCode: string } }).response.verificationCode;
      const stored = await rows().find();
      expect(stored.length).toBeGreaterThan(0);
      for (const row of stored) expect(row.answer ?? '').not.toContain(code);
    });

    it('the same key with another request is FAILED_PRECONDITION (422 on REST) and changes nothing', async () => {
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      const number = randomMobile();
      expect((await setPhone({ userId, phone: number, sendCode: {} }, headers)).ok).toBe(true);
      const other = await setPhone({ userId, phone: randomMobile(), sendCode: {} }, headers);
      const id = 'IDEM-r3us3d';
      const text = 'Idempotency-Key was already used with another request: use a new key for a new request';
      expect(other).toEqual({
        ok: false,
        code: GRPC_FAILED_PRECONDITION,
        message: `${text} (${id})`,
        details: [
          { '@type': ERROR_DETAIL, id, message: text },
          {
            '@type': ERROR_INFO,
            reason: 'IDEMPOTENCY_KEY_REUSED',
            domain: 'phone-verify',
            metadata: { method: 'SetPhone' },
          },
        ],
        ...(transport === 'rest' ? { httpStatus: 422 } : {}),
      });
      expect(await outboxCount(t, userId)).toBe(1);
      const user = await t.http().get(`/v2/users/${userId}`).set(bearer(t.adminToken)).expect(200);
      expect(user.body.user.human.phone.phone).toBe(number);
    });

    it("another caller's same key is a key of its own", async () => {
      const { userId } = await createHuman(t, { orgId });
      const manager = await createMachineWithToken(t, orgId, [{ scope: orgId, role: 'ORG_USER_MANAGER' }]);
      const headers = key();
      const first = await setPhone({ userId, phone: randomMobile(), sendCode: {} }, headers);
      const second = await setPhone({ userId, phone: randomMobile(), sendCode: {} }, headers, manager.token);
      expect([first.ok, second.ok]).toEqual([true, true]);
      expect(second).not.toEqual(first);
      expect(await outboxCount(t, userId)).toBe(2);
    });

    it('five parallel repeats send one SMS and all answer the same', async () => {
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      const request = { userId, phone: randomMobile(), sendCode: {} };
      const answers = await Promise.all(Array.from({ length: 5 }, () => setPhone(request, headers)));
      expect(answers[0].ok).toBe(true);
      for (const answer of answers) expect(answer).toEqual(answers[0]);
      expect(await outboxCount(t, userId)).toBe(1);
    });

    it('a repeated ResendPhoneCode sends one more SMS, not two', async () => {
      const { userId } = await createHuman(t, { orgId, phone: randomMobile(), phoneMode: 'sendCode' });
      const headers = key();
      const first = await c.call('UserService', 'ResendPhoneCode', { userId, sendCode: {} }, t.adminToken, headers);
      const repeat = await c.call('UserService', 'ResendPhoneCode', { userId, sendCode: {} }, t.adminToken, headers);
      expect(first.ok).toBe(true);
      expect(repeat).toEqual(first);
      expect(await outboxCount(t, userId)).toBe(2);
    });

    it('a repeated AddHumanUser creates one user and sends one SMS', async () => {
      const headers = key();
      const request = {
        organization: { orgId },
        profile: { givenName: 'Minnie', familyName: 'Mouse' },
        email: { email: `minnie.${randomUUID()}@example.com`, isVerified: true },
        phone: { phone: randomMobile(), sendCode: {} },
      };
      const first = await c.call('UserService', 'AddHumanUser', request, t.adminToken, headers);
      const repeat = await c.call('UserService', 'AddHumanUser', request, t.adminToken, headers);
      expect(first.ok).toBe(true);
      expect(repeat).toEqual(first);
      expect(await outboxCount(t, String((first as { response: JsonObject }).response.userId))).toBe(1);
    });

    it('a key longer than 255 characters is INVALID_ARGUMENT and sends nothing', async () => {
      const { userId } = await createHuman(t, { orgId });
      const answer = await setPhone(
        { userId, phone: randomMobile(), sendCode: {} },
        { 'idempotency-key': 'k'.repeat(256) },
      );
      expect(answer).toMatchObject({
        ok: false,
        code: GRPC_INVALID_ARGUMENT,
        message: 'Idempotency-Key is invalid: must be at most 255 characters (IDEM-k3yfmt)',
        ...(transport === 'rest' ? { httpStatus: 400 } : {}),
      });
      expect(await outboxCount(t, userId)).toBe(0);
    });

    it('without a key every call runs, as before', async () => {
      const { userId } = await createHuman(t, { orgId, phone: randomMobile(), phoneMode: 'sendCode' });
      const first = await c.call('UserService', 'ResendPhoneCode', { userId, sendCode: {} }, t.adminToken);
      const second = await c.call('UserService', 'ResendPhoneCode', { userId, sendCode: {} }, t.adminToken);
      expect([first.ok, second.ok]).toEqual([true, true]);
      expect(await outboxCount(t, userId)).toBe(3);
    });
  });

  it('a replay over native gRPC says so in its response metadata', async () => {
    const { userId } = await createHuman(t, { orgId });
    const clients = grpcClients(t);
    const headers = key();
    const request = { userId, phone: randomMobile(), sendCode: {} };
    const replayedOf = () =>
      new Promise<unknown[]>((resolve, reject) => {
        let seen: unknown[] = [];
        const call = clients.UserService.SetPhone(
          request,
          grpcMetadata(t.adminToken, headers),
          (error: Error | null) => (error ? reject(error) : resolve(seen)),
        );
        call.on('metadata', (metadata: Metadata) => (seen = metadata.get('idempotent-replayed')));
      });
    try {
      expect(await replayedOf()).toEqual([]);
      expect(await replayedOf()).toEqual(['true']);
    } finally {
      closeGrpcClients(clients);
    }
    expect(await outboxCount(t, userId)).toBe(1);
  });

  it.each(['grpc-web', 'connect'])('a replay over %s says so in an idempotent-replayed header', async (transport) => {
    const { userId } = await createHuman(t, { orgId });
    const service = serviceSchema('UserService');
    const method = service.methods.find((m) => m.name === 'SetPhone')!;
    const client = createClient(service, transport === 'connect' ? connectTransport(t) : grpcWebTransport(t));
    const input = fromJson(
      method.input,
      { userId, phone: randomMobile(), sendCode: {} },
      { registry: protoRegistry() },
    );
    const headers = { ...key(), authorization: `Bearer ${t.adminToken}` };
    const replayedOf = async () => {
      let replayed: string | null = 'not seen';
      await (client as unknown as Record<string, (i: unknown, o: object) => Promise<unknown>>).setPhone(input, {
        headers,
        onHeader: (h: Headers) => (replayed = h.get('idempotent-replayed')),
      });
      return replayed;
    };
    expect(await replayedOf()).toBeNull();
    expect(await replayedOf()).toBe('true');
    expect(await outboxCount(t, userId)).toBe(1);
  });

  describe('over REST', () => {
    const api = (headers: Record<string, string>) => ({
      set: (userId: string, body: object) =>
        t.http().post(`/v2/users/${userId}/phone`).set(bearer(t.adminToken)).set(headers).send(body),
    });

    it('a replay says so in idempotent-replayed; a first answer does not', async () => {
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      const body = { phone: randomMobile(), sendCode: {} };
      const first = await api(headers).set(userId, body).expect(200);
      const repeat = await api(headers).set(userId, body).expect(200);
      expect([first.headers['idempotent-replayed'], repeat.headers['idempotent-replayed']]).toEqual([
        undefined,
        'true',
      ]);
      expect(repeat.body).toEqual(first.body);
    });

    it('counts calls with a key by method and outcome', async () => {
      const counted = async () => {
        const samples = await scrape(t);
        return ['first', 'replayed', 'conflict'].map((outcome) =>
          valueOf(samples, 'pv_idempotent_requests_total', { method: 'SetPhone', outcome }),
        );
      };
      const before = await counted();
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      const body = { phone: randomMobile(), sendCode: {} };
      await api(headers).set(userId, body).expect(200);
      await api(headers).set(userId, body).expect(200);
      await api(headers)
        .set(userId, { ...body, phone: randomMobile() })
        .expect(422);
      const after = await counted();
      expect(after.map((n, i) => n - before[i])).toEqual([1, 1, 1]);
    });

    it('answers the 422 /openapi.json documents, and documents the header on the three routes', async () => {
      const doc = (await t.http().get('/openapi.json').expect(200)).body;
      const setPhone = doc.paths['/v2/users/{userId}/phone'].post;
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      await api(headers).set(userId, { phone: randomMobile(), sendCode: {} }).expect(200);
      const reused = await api(headers).set(userId, { phone: randomMobile(), sendCode: {} }).expect(422);
      expect(reused.body).toEqual(
        setPhone.responses['422'].content['application/json'].examples.idempotencyKeyReused.value,
      );
      const routes = [setPhone, doc.paths['/v2/users/{userId}/phone/resend'].post, doc.paths['/v2/users/human'].post];
      for (const route of routes) {
        expect(route.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }));
      }
    });

    it('a claim another instance holds unanswered (or left by a crash) is 409 ABORTED after the wait, and sends nothing', async () => {
      const { userId } = await createHuman(t, { orgId });
      const admin = await dataSourceOf(t)
        .getRepository(PersonalAccessTokenEntity)
        .findOneByOrFail({ tokenHash: hashToken(t.adminToken) });
      const headers = key();
      const phone = randomMobile();
      const now = t.clock.now();
      await rows().insert({
        id: scopeOf(admin.userId, 'SetPhone', headers['idempotency-key']),
        fingerprint: fingerprintOf({ userId, phone, verification: { kind: 'send' } }),
        answer: null,
        createdAt: now,
        expiresAt: new Date(now.getTime() + DAY),
      });
      const res = await api(headers).set(userId, { phone, sendCode: {} });
      const text = 'A request with this Idempotency-Key is still in progress: retry it later';
      expect([res.status, res.headers['retry-after'], res.body.message]).toEqual([409, '5', `${text} (IDEM-b1sy)`]);
      expect(res.body.details).toContainEqual(expect.objectContaining({ reason: 'IDEMPOTENCY_IN_PROGRESS' }));
      expect(await outboxCount(t, userId)).toBe(0);
    });

    it('an empty key or one with a control character is 400', async () => {
      const { userId } = await createHuman(t, { orgId });
      for (const bad of ['', 'a\tb']) {
        const res = await api({ 'idempotency-key': bad }).set(userId, { phone: randomMobile(), sendCode: {} });
        expect([res.status, res.body.details[0].id]).toEqual([400, 'IDEM-k3yfmt']);
      }
      expect(await outboxCount(t, userId)).toBe(0);
    });

    it('a client error is replayed too: the second call does not run', async () => {
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      // no phone yet: nothing to resend (FAILED_PRECONDITION, kept)
      const first = await t
        .http()
        .post(`/v2/users/${userId}/phone/resend`)
        .set(bearer(t.adminToken))
        .set(headers)
        .send({});
      await api({}).set(userId, { phone: randomMobile(), sendCode: {} }).expect(200);
      const repeat = await t
        .http()
        .post(`/v2/users/${userId}/phone/resend`)
        .set(bearer(t.adminToken))
        .set(headers)
        .send({});
      expect([first.status, repeat.status, repeat.headers['idempotent-replayed']]).toEqual([400, 400, 'true']);
      expect(repeat.body).toEqual(first.body);
      expect(await outboxCount(t, userId)).toBe(1);
    });

    it('after 24 h the key is new again, and the retention sweep prunes it', async () => {
      const { userId } = await createHuman(t, { orgId });
      const headers = key();
      const body = { phone: randomMobile(), sendCode: {} };
      await api(headers).set(userId, body).expect(200);
      await api(headers).set(userId, body).expect(200);
      expect(await outboxCount(t, userId)).toBe(1);

      t.clock.advance(DAY + 1);
      // the number is set already: the request runs again and answers what it answers now
      const again = await api(headers).set(userId, body).expect(400);
      expect(again.headers['idempotent-replayed']).toBeUndefined();
      expect(again.body.details[0].id).toBe('COMMAND-Uch5e');

      const pruned = await t.app.get(RetentionSweeper).sweep();
      expect(pruned?.idempotency_keys).toBeGreaterThan(0);
      const left = await rows().find();
      expect(left.every((row) => row.expiresAt.getTime() > t.clock.now().getTime())).toBe(true);
    });
  });
});
