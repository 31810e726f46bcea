import { Writable } from 'node:stream';
import { clearSmsBackoff } from '../src/phone/admin/sms-backoff-admin';
import { createHuman, randomMobile } from './support/factories';
import { OwnRedisCluster } from './support/own-cluster';
import { orNotYet, until } from './support/wait';
import { phoneApi, wrongCodeFor } from './support/phone-api';
import { FAILOVER_ENV, failoverUnderLoad } from './support/redis-failover';
import { startApp, TestApp } from './support/test-app';

/** Every key of the cluster's primaries, by node port. */
async function keysByNode(cluster: OwnRedisCluster): Promise<Map<number, string[]>> {
  const byNode = new Map<number, string[]>();
  for (const node of await cluster.nodes(cluster.ports[0])) {
    if (!node.flags.includes('master') || node.flags.includes('fail')) continue;
    byNode.set(node.port, ((await cluster.ask(node.port, 'KEYS', '*')) as string[]).sort());
  }
  return byNode;
}

/**
 * REDIS_URL=redis+cluster://… : the limits, the back-off and the pumping guard's counters in a
 * Redis Cluster. Their scripts read and count keys of a user and of a number at once, which a
 * Cluster runs only within one slot: every key carries the hash tag {pv}.
 */
describe('Limits in a Redis Cluster', () => {
  let cluster: OwnRedisCluster | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
    t = await startApp('postgres', {
      REDIS_URL: cluster.url,
      REDIS_TIMEOUT: '1s',
      SMS_PROVIDER: 'none',
      SMS_MAX_PER_USER_PER_HOUR: '2',
      PHONE_MAX_FAILED_PER_DAY: '2',
      SMS_BACKOFF_BASE: '60s',
      SMS_BACKOFF_FREE_SENDS: '3',
      SMS_FRAUD_MODE: 'record',
      THROTTLE_LIMIT: '100000',
    });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
  }, 60_000);

  it('counts every limit on the primary of one slot, refuses past a limit, and clears a number’s back-off there', async () => {
    const api = phoneApi(t!);
    // two accounts send to one number: a back-off record each
    const number = randomMobile();
    const [a, b] = [await createHuman(t!), await createHuman(t!)];
    await api.set(a.userId, { phone: number, sendCode: {} }).expect(200);
    await api.set(b.userId, { phone: number, sendCode: {} }).expect(200);
    await api.set(a.userId, { phone: randomMobile(), sendCode: {} }).expect(200);
    const third = await api.set(a.userId, { phone: randomMobile(), sendCode: {} });
    expect([third.status, third.body.details?.[1]?.metadata?.limit]).toEqual([429, 'sms_per_user_per_hour']);
    const guessed = await createHuman(t!, { phone: randomMobile(), phoneMode: 'returnCode' });
    for (let i = 0; i < 2; i++) await api.verify(guessed.userId, wrongCodeFor(guessed.phoneCode!)).expect(400);
    const lockedOut = await api.verify(guessed.userId, guessed.phoneCode!);
    expect([lockedOut.status, lockedOut.body.details?.[1]?.metadata?.limit]).toEqual([429, 'failed_checks_per_day']);

    const { primary } = await cluster!.holderOf('{pv}');
    const byNode = await keysByNode(cluster!);
    const stores = [...byNode.values()].flat().filter((key) => !key.startsWith('pv:throttle'));
    expect(stores.every((key) => key.startsWith('{pv}:'))).toBe(true);
    expect(byNode.get(primary)).toEqual(expect.arrayContaining(stores));
    for (const kind of ['limit', 'backoff', 'fraud']) {
      expect({ kind, found: stores.some((key) => key.startsWith(`{pv}:${kind}:`)) }).toEqual({ kind, found: true });
    }
    const backoffs = stores.filter((key) => key.startsWith(`{pv}:backoff:sms:backoff:${number}:`));
    expect(backoffs).toHaveLength(2);

    const lines: string[] = [];
    const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
    expect(await clearSmsBackoff([number], t!.env, (line) => lines.push(line), quiet)).toBe(0);
    expect(lines).toEqual([`${number}: back-off cleared (2 records)`]);
    const after = [...(await keysByNode(cluster!)).values()].flat();
    expect(after.filter((key) => backoffs.includes(key))).toEqual([]);
  }, 60_000);
});

/**
 * The primary of the stores' slot dies or hangs under load, and its replica takes over (after
 * cluster-node-timeout, 1 s). As with Sentinel, the test first holds that primary's writes and
 * waits until the replica has every acknowledged one, so every count must be exact afterwards.
 */
describe.each([
  ['dies (SIGKILL)', 'kill'],
  ['hangs (SIGSTOP), its connections open', 'freeze'],
] as const)('Limits in a Redis Cluster: the primary of their slot %s', (_, how) => {
  let cluster: OwnRedisCluster | undefined;
  let t: TestApp | undefined;

  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
    t = await startApp('postgres', { REDIS_URL: cluster.url, ...FAILOVER_ENV });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await cluster?.stop();
  }, 60_000);

  it('answers normally or 503 during the failover, normally after it, and every count survives it', async () => {
    const { primary, replica } = await cluster!.holderOf('{pv}');
    expect(replica).toBeDefined();
    await failoverUnderLoad(t!, async () => {
      await cluster!.holdWritesAndSync(primary, replica!);
      if (how === 'freeze') cluster!.freeze(primary);
      else await cluster!.kill(primary);
      await until(
        'the replica promoted and the cluster whole again',
        orNotYet(
          async () =>
            (await cluster!.holderOf('{pv}', replica!)).primary === replica &&
            (await cluster!.healthy(cluster!.ports.filter((port) => port !== primary))),
        ),
        60_000,
        100,
      );
    });
  }, 240_000);
});
