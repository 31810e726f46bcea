import type { Response } from 'supertest';
import { createHuman } from './factories';
import { until } from './wait';
import { phoneApi, phoneErrors, wrongCodeFor } from './phone-api';
import type { TestApp } from './test-app';

/**
 * The limits in Redis while its primary fails over under load, whatever does the failing over
 * (a Sentinel set, a Cluster): the app's settings for it, and the scenario with its checks.
 */
const MAX_FAILED_PER_DAY = 4;
const MAX_SMS_PER_HOUR = 4;
const WORKERS = 3;

/** What the app needs besides REDIS_URL. */
export const FAILOVER_ENV = {
  REDIS_TIMEOUT: '1s',
  PHONE_MAX_FAILED_PER_DAY: String(MAX_FAILED_PER_DAY),
  PHONE_CODE_MAX_ATTEMPTS: '10',
  SMS_MAX_PER_USER_PER_HOUR: String(MAX_SMS_PER_HOUR),
  // every authenticated call is counted in Redis too
  THROTTLE_LIMIT: '100000',
};

type Op = 'verify' | 'sms';
/** counted: a hit taken (a wrong code compared, an SMS queued); refused: the limit's 429; unavailable: 503 */
type Kind = 'counted' | 'refused' | 'unavailable' | 'unexpected';
interface Answer {
  worker: number;
  op: Op;
  kind: Kind;
  status: number;
  body: unknown;
}

const LIMIT_OF: Record<Op, string> = { verify: 'failed_checks_per_day', sms: 'sms_per_user_per_hour' };

function kindOf(op: Op, res: Response): Kind {
  const id = res.body?.details?.[0]?.id;
  if (res.status === 503 && res.body.code === 14 && id === 'API-unavail') return 'unavailable';
  if (res.status === 429 && id === 'PHONE-ratelimit' && res.body.details[1]?.metadata?.limit === LIMIT_OF[op]) {
    return 'refused';
  }
  if (op === 'verify' && res.status === 400 && id === 'COMMAND-eis9R') return 'counted';
  if (op === 'sms' && res.status === 200) return 'counted';
  return 'unexpected';
}

let numbers = 0;
/** Swiss mobile numbers, each used once in a file. */
const nextNumber = () => `+4179${1_000_000 + numbers++}`;

/**
 * Drives wrong guesses and SMS sends from several users while `failover` takes the primary away
 * and waits until another has taken over; then checks that the calls were answered normally or
 * 503 (never anything else), normally again after it, and that every count survived: no more hits
 * than a limit allows, and the counts taken before the failover exact after it. `failover` must
 * first let the replica catch up with every acknowledged write (replication is asynchronous; see
 * docs/redis.md), so that nothing answered is lost.
 */
export async function failoverUnderLoad(t: TestApp, failover: () => Promise<void>): Promise<void> {
  const api = phoneApi(t);
  const wrong = (code?: string) => wrongCodeFor(code!);

  // untouched during the failover: two failed checks of four, two SMS of four
  const a = await createHuman(t, { phone: nextNumber(), phoneMode: 'returnCode' });
  phoneErrors.wrongCode(await api.verify(a.userId, wrong(a.phoneCode)), 9);
  phoneErrors.wrongCode(await api.verify(a.userId, wrong(a.phoneCode)), 8);
  const { userId: b } = await createHuman(t);
  for (let i = 0; i < 2; i++) expect((await api.set(b, { phone: nextNumber(), sendCode: {} })).status).toBe(200);

  // the load: each worker guesses wrong for a user of its own and sets another's phone, over and over
  const users = [];
  for (let w = 0; w < WORKERS; w++) {
    const guesser = await createHuman(t, { phone: nextNumber(), phoneMode: 'returnCode' });
    const sender = await createHuman(t);
    users.push({ guesser: guesser.userId, code: guesser.phoneCode!, sender: sender.userId });
  }
  const answers: Answer[] = [];
  const rounds = new Array<number>(WORKERS).fill(0);
  let stop = false;
  const loadEnd = Date.now() + 150_000;
  const record = (worker: number, op: Op, res: Response) =>
    answers.push({ worker, op, kind: kindOf(op, res), status: res.status, body: res.body });
  const load = users.map(async (user, w) => {
    while (!stop && Date.now() < loadEnd && rounds[w] < 10_000) {
      record(w, 'verify', await api.verify(user.guesser, wrongCodeFor(user.code)));
      record(w, 'sms', await api.set(user.sender, { phone: nextNumber(), sendCode: {} }));
      rounds[w]++;
    }
  });
  try {
    await until('every worker under way', () => rounds.every((n) => n >= 3), 30_000, 100);
    await failover();

    // back to normal: the last answers of every worker, all after the switch, none a 503
    const switched = answers.length;
    const tail = 4 * WORKERS;
    await until(
      'normal answers from the new primary',
      () => answers.length - switched >= tail && answers.slice(-tail).every((x) => x.kind !== 'unavailable'),
      60_000,
      100,
    );
  } finally {
    stop = true;
    await Promise.all(load);
  }

  expect(answers.filter((x) => x.kind === 'unexpected')).toEqual([]);
  // the failover was felt: calls made while there was no primary were answered 503
  expect(answers.some((x) => x.kind === 'unavailable')).toBe(true);

  // each load user: never more hits than the limit, and the limit refuses once the hits counted reach it;
  // a 503 counted at most one hit (its reply lost with the connection), never a hit let through
  for (let w = 0; w < WORKERS; w++) {
    for (const op of ['verify', 'sms'] as Op[]) {
      const mine = answers.filter((x) => x.worker === w && x.op === op);
      let counted = mine.filter((x) => x.kind === 'counted').length;
      const unavailable = mine.filter((x) => x.kind === 'unavailable').length;
      const max = op === 'verify' ? MAX_FAILED_PER_DAY : MAX_SMS_PER_HOUR;
      let refused = false;
      for (let i = 0; i <= max && !refused; i++) {
        const res =
          op === 'verify'
            ? await api.verify(users[w].guesser, wrongCodeFor(users[w].code))
            : await api.set(users[w].sender, { phone: nextNumber(), sendCode: {} });
        const kind = kindOf(op, res);
        // Redis is back: counted or refused, nothing else
        expect({ op, status: res.status, kind }).toEqual({
          op,
          status: res.status,
          kind: expect.stringMatching(/^(counted|refused)$/),
        });
        if (kind === 'counted') counted++;
        refused = kind === 'refused';
      }
      expect({ worker: w, op, refused }).toEqual({ worker: w, op, refused: true });
      expect(counted).toBeLessThanOrEqual(max);
      expect(counted).toBeGreaterThanOrEqual(max - unavailable);
    }
  }

  // the counts taken before the failover count after it, exactly
  phoneErrors.wrongCode(await api.verify(a.userId, wrong(a.phoneCode)), 7);
  phoneErrors.wrongCode(await api.verify(a.userId, wrong(a.phoneCode)), 6);
  const lockedOut = await api.verify(a.userId, a.phoneCode);
  phoneErrors.rateLimited(lockedOut);
  expect(lockedOut.body.details[1].metadata.limit).toBe('failed_checks_per_day');
  for (let i = 0; i < 2; i++) expect((await api.set(b, { phone: nextNumber(), sendCode: {} })).status).toBe(200);
  const noMoreSms = await api.set(b, { phone: nextNumber(), sendCode: {} });
  phoneErrors.rateLimited(noMoreSms);
  expect(noMoreSms.body.details[1].metadata.limit).toBe('sms_per_user_per_hour');

  const lines = (msg: string) => t.logs.filter((line) => line.includes(`"msg":"${msg}"`));
  expect(lines('unexpected error')).toEqual([]);
  expect(lines('redis unavailable: answering 503 until it recovers').length).toBeGreaterThan(0);
  expect(lines('redis recovered').length).toBeGreaterThan(0);
}
