import { SmsOutboxWorker } from '../src/phone/outbox/sms-outbox.worker';
import { createHuman, createMachineWithToken, createOrg, randomMobile } from './support/factories';
import { phoneApi } from './support/phone-api';
import { RoundTripProxy } from './support/round-trip-proxy';
import { bearer, PG_URL, startApp, TestApp } from './support/test-app';
import { UNAUTHENTICATED } from './support/wire';

/**
 * Round trips each use-case makes to PostgreSQL, counted by a proxy between the app and the
 * server: the token's lookup travels with BEGIN and the first reads, the closing writes with
 * COMMIT. Nothing else talks to the database here (a fixed node id, the outbox worker stopped).
 */
describe('Round trips per use-case on PostgreSQL', () => {
  let t: TestApp;
  let proxy: RoundTripProxy;
  let api: ReturnType<typeof phoneApi>;

  beforeAll(async () => {
    proxy = await RoundTripProxy.start(PG_URL);
    t = await startApp('postgres', { NODE_ID: '7', DATABASE_URL: proxy.url(PG_URL) });
    await t.app.get(SmsOutboxWorker).onModuleDestroy();
    api = phoneApi(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  }, 60_000);

  /** The round trips `request` cost, and its answer. */
  async function counted<T>(request: () => PromiseLike<T>): Promise<[number, T]> {
    const [before, opened] = [proxy.count, proxy.opened];
    const answer = await request();
    // a connection's start-up would count as round trips of its own
    expect(proxy.opened - opened).toBe(0);
    return [proxy.count - before, answer];
  }

  async function userWithCode(): Promise<{ userId: string; code: string }> {
    const { userId, phoneCode } = await createHuman(t, { phone: randomMobile(), phoneMode: 'returnCode' });
    return { userId, code: phoneCode! };
  }

  it('VerifyPhone with a wrong code: 2 (BEGIN, token, user and row lock, limit read, claim; attempt, event, limit hit, COMMIT)', async () => {
    const { userId, code } = await userWithCode();
    const wrong = code === '000000' ? '111111' : '000000';
    const [trips, res] = await counted(() => api.verify(userId, wrong));
    expect([trips, res.status]).toEqual([2, 400]);
  });

  it('VerifyPhone with the right code: 2', async () => {
    const { userId, code } = await userWithCode();
    const [trips, res] = await counted(() => api.verify(userId, code));
    expect([trips, res.status]).toEqual([2, 200]);
  });

  it('SetPhone with returnCode: 2', async () => {
    const { userId } = await userWithCode();
    const [trips, res] = await counted(() => api.set(userId, { phone: randomMobile(), returnCode: {} }));
    expect([trips, res.status]).toEqual([2, 200]);
  });

  it('GetUserByID: 2 (the caller and the user side by side; the organization’s domain is known)', async () => {
    const { userId } = await userWithCode();
    await api.get((await userWithCode()).userId).expect(200); // the first read of an organization learns its domain
    const [trips, res] = await counted(() => api.get(userId));
    expect([trips, res.status]).toEqual([2, 200]);
  });

  it('a state change: 2 (token with the row lock, then the writes with COMMIT)', async () => {
    const { userId } = await userWithCode();
    const [trips, res] = await counted(() =>
      t.http().post(`/v2/users/${userId}/deactivate`).set(bearer(t.adminToken)).send({}),
    );
    expect([trips, res.status]).toEqual([2, 200]);
  });

  it('DeleteUser: 2', async () => {
    const { userId } = await userWithCode();
    const [trips, res] = await counted(() => t.http().delete(`/v2/users/${userId}`).set(bearer(t.adminToken)));
    expect([trips, res.status]).toEqual([2, 200]);
  });

  it('an unknown token costs its transaction and commits nothing: 401, the code still has all its attempts', async () => {
    const { userId, code } = await userWithCode();
    const [trips, res] = await counted(() => phoneApi(t, 'not-a-token').verify(userId, '000000'));
    expect([res.status, res.body]).toEqual([401, UNAUTHENTICATED]);
    expect(trips).toBe(2); // the first batch, then ROLLBACK
    await api.verify(userId, code).expect(200);
  });

  it('a revoked caller is refused on its very next request (no cache)', async () => {
    const orgId = await createOrg(t);
    const machine = await createMachineWithToken(t, orgId, [{ scope: orgId, role: 'ORG_USER_MANAGER' }]);
    const { userId } = await createHuman(t, { orgId, phone: randomMobile(), phoneMode: 'returnCode' });
    await phoneApi(t, machine.token).get(userId).expect(200);
    await t.http().post(`/v2/users/${machine.userId}/deactivate`).set(bearer(t.adminToken)).send({}).expect(200);
    const res = await phoneApi(t, machine.token).verify(userId, '000000');
    expect([res.status, res.body]).toEqual([401, UNAUTHENTICATED]);
  });
});
