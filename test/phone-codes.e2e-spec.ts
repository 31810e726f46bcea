import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { PhoneCodeEntity } from '../src/phone/phone-code.entity';
import { SmsDeliveryError, SmsMessage, SmsSender } from '../src/phone/sms/sms-sender';
import { bearer, createPgSchema, DATABASES, dataSourceOf, dropPgSchema, PG_URL, TestApp } from './support/test-app';
import { createHuman } from './support/factories';
import { eventsOf } from './support/events';
import { outboxIdle, phoneApi, phoneCodeRow, phoneErrors, startPhoneApp, wrongCodeFor } from './support/phone-api';

const PHONE = '+41791234567';

/** HMAC-SHA-256 over (user id, number, code), as the security bar says codes are kept at rest. */
function macOf(secretBase64: string, userId: string, phone: string, code: string): string {
  return createHmac('sha256', Buffer.from(secretBase64, 'base64')).update(`${userId}\n${phone}\n${code}`).digest('hex');
}

/** The event types another connection sees, i.e. what is committed. */
async function committedEventTypes(t: TestApp, userId: string): Promise<string[]> {
  const dataSource = dataSourceOf(t);
  if (t.db === 'sqlite') {
    const driver = dataSource.driver as any;
    expect(driver.databaseConnection.inTransaction).toBe(false);
    const reader = new driver.sqlite(t.env.DATABASE_URL, { readonly: true });
    try {
      const rows = reader.prepare('SELECT type FROM events WHERE aggregate_id = ? ORDER BY sequence').all(userId);
      return rows.map((r: { type: string }) => r.type);
    } finally {
      reader.close();
    }
  }
  const client = new Client({ connectionString: PG_URL, options: `-c search_path=${t.env.DATABASE_SCHEMA}` });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT type FROM events WHERE aggregate_id = $1 ORDER BY sequence', [userId]);
    return rows.map((r) => r.type);
  } finally {
    await client.end();
  }
}

describe.each(DATABASES)('phone codes (%s)', (db) => {
  let t: TestApp;
  let api: ReturnType<typeof phoneApi>;

  beforeAll(async () => {
    t = await startPhoneApp(db, { PHONE_CODE_LENGTH: '8' });
    api = phoneApi(t);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('codes have PHONE_CODE_LENGTH digits, from AddHumanUser, SetPhone and ResendPhoneCode', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    const set = await api.set(userId, { phone: '+41787654321', returnCode: {} }).expect(200);
    const resent = await api.resend(userId, { returnCode: {} }).expect(200);
    for (const code of [phoneCode, set.body.verificationCode, resent.body.verificationCode]) {
      expect(code).toMatch(/^\d{8}$/);
    }
  });

  it('CreateUser and AddHumanUser: phoneCode for returnCode, verified for isVerified', async () => {
    const orgId = (await t.http().post('/v2/organizations').set(bearer(t.adminToken)).send({ name: 'Codes' })).body
      .organizationId;
    const human = (phone: object) => ({
      profile: { givenName: 'Minnie', familyName: 'Mouse' },
      email: { email: `minnie.${Math.random().toString(36).slice(2)}@example.com`, isVerified: true },
      phone,
    });
    const created = await t
      .http()
      .post('/v2/users/new')
      .set(bearer(t.adminToken))
      .send({ organizationId: orgId, human: human({ phone: '+41 79 123 45 67', returnCode: {} }) })
      .expect(200);
    expect(created.body.phoneCode).toMatch(/^\d{8}$/);
    expect((await api.get(created.body.id)).body.user.human.phone).toEqual({ phone: PHONE });
    await api.verify(created.body.id, created.body.phoneCode).expect(200);
    expect((await api.get(created.body.id)).body.user.human.phone).toEqual({ phone: PHONE, isVerified: true });

    const verified = await t
      .http()
      .post('/v2/users/new')
      .set(bearer(t.adminToken))
      .send({ organizationId: orgId, human: human({ phone: '0041791234567', isVerified: true }) })
      .expect(200);
    expect(verified.body.phoneCode).toBeUndefined();
    expect((await api.get(verified.body.id)).body.user.human.phone).toEqual({ phone: PHONE, isVerified: true });
    expect(await phoneCodeRow(t, verified.body.id)).toBeNull();

    const sent = await t
      .http()
      .post('/v2/users/human')
      .set(bearer(t.adminToken))
      .send({ organization: { orgId }, ...human({ phone: PHONE, sendCode: {} }) })
      .expect(200);
    expect(sent.body.phoneCode).toBeUndefined();
    expect((await phoneCodeRow(t, sent.body.userId))!.attempts).toBe(0);
  });

  it('a resend invalidates the old code', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    const resent = await api.resend(userId, { returnCode: {} }).expect(200);
    const fresh = resent.body.verificationCode as string;
    if (fresh !== phoneCode) phoneErrors.wrongCode(await api.verify(userId, phoneCode), 4);
    await api.verify(userId, fresh).expect(200);
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: PHONE, isVerified: true });
  });

  it('a new number invalidates the code of the old one', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    const set = await api.set(userId, { phone: '+41787654321', returnCode: {} }).expect(200);
    if (set.body.verificationCode !== phoneCode) phoneErrors.wrongCode(await api.verify(userId, phoneCode), 4);
    await api.verify(userId, set.body.verificationCode).expect(200);
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+41787654321', isVerified: true });
  });

  it('RemovePhone forgets the code: verifying afterwards → COMMAND-2M9fs', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    await api.remove(userId).expect(200);
    expect(await phoneCodeRow(t, userId)).toBeNull();
    phoneErrors.noCode(await api.verify(userId, phoneCode));
    expect((await api.get(userId)).body.user.human.phone).toEqual({});
    phoneErrors.codeEmpty(await api.resend(userId, { returnCode: {} }));
  });

  it('isVerified skips the code and removes a pending one', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    const res = await api.set(userId, { phone: '+41787654321', isVerified: true }).expect(200);
    expect(res.body.verificationCode).toBeUndefined();
    expect(await phoneCodeRow(t, userId)).toBeNull();
    phoneErrors.noCode(await api.verify(userId, phoneCode));
    expect((await api.get(userId)).body.user.human.phone).toEqual({ phone: '+41787654321', isVerified: true });
  });

  it('a success consumes the code', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    await api.verify(userId, phoneCode).expect(200);
    expect((await phoneCodeRow(t, userId))!.consumedAt).toBeInstanceOf(Date);
    phoneErrors.noCode(await api.verify(userId, phoneCode));
  });

  it('the code is stored only as a keyed MAC; neither the table nor the events contain it', async () => {
    const [keyId, secret] = readFileSync(t.env.CODE_HMAC_KEY_FILE, 'utf8').trim().split(':');
    const { userId, phoneCode } = await createHuman(t, { phone: PHONE, phoneMode: 'returnCode' });
    const set = await api.set(userId, { phone: '+41787654321', returnCode: {} }).expect(200);
    const resent = await api.resend(userId, { returnCode: {} }).expect(200);
    const codes = [phoneCode!, set.body.verificationCode, resent.body.verificationCode];

    const row = (await phoneCodeRow(t, userId))!;
    expect(row.keyId).toBe(keyId);
    expect(row.mac).toBe(macOf(secret, userId, '+41787654321', codes[2]));
    const table = JSON.stringify(await dataSourceOf(t).query('SELECT * FROM phone_codes'));
    const events = JSON.stringify(await eventsOf(t, userId));
    for (const code of codes) {
      expect(table).not.toContain(code);
      expect(events).not.toContain(code);
    }
    expect(await dataSourceOf(t).getRepository(PhoneCodeEntity).countBy({ userId })).toBe(1);
  });
});

describe.each(DATABASES)('phone codes, alphanumeric (%s)', (db) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startPhoneApp(db, { PHONE_CODE_ALPHABET: 'alphanumeric' });
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('are upper-case alphanumerics and verify case-insensitively', async () => {
    const api = phoneApi(t);
    const users = await Promise.all(
      Array.from({ length: 8 }, () => createHuman(t, { phone: PHONE, phoneMode: 'returnCode' })),
    );
    for (const { phoneCode } of users) expect(phoneCode).toMatch(/^[A-Z0-9]{6}$/);
    const withLetter = users.find((u) => /[A-Z]/.test(u.phoneCode!))!;
    expect(withLetter).toBeDefined();
    await api.verify(withLetter.userId, withLetter.phoneCode!.toLowerCase()).expect(200);
    const other = users.find((u) => u !== withLetter)!;
    phoneErrors.wrongCode(await api.verify(other.userId, wrongCodeFor(other.phoneCode!).toLowerCase()), 4);
    await api.verify(other.userId, other.phoneCode).expect(200);
  });
});

describe.each(DATABASES)('phone code MAC keys (%s)', (db) => {
  const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');
  let dir: string;
  let schema: string | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-rotate-'));
    schema = db === 'postgres' ? await createPgSchema() : undefined;
  }, 60_000);
  afterAll(async () => {
    if (schema) await dropPgSchema(schema);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('the first key of CODE_HMAC_KEY signs; after a rotation, codes of the old key still verify', async () => {
    const first = await startPhoneApp(db, { CODE_HMAC_KEY: `k1:${key(1)}` }, { dir, schema });
    let userId: string;
    let code: string;
    try {
      ({ userId, phoneCode: code } = (await createHuman(first, { phone: PHONE, phoneMode: 'returnCode' })) as {
        userId: string;
        phoneCode: string;
      });
      const row = (await phoneCodeRow(first, userId))!;
      expect(row.keyId).toBe('k1');
      expect(row.mac).toBe(macOf(key(1), userId, PHONE, code));
    } finally {
      await first.close();
    }

    const second = await startPhoneApp(db, { CODE_HMAC_KEY: `k2:${key(2)},k1:${key(1)}` }, { dir, schema });
    try {
      const api = phoneApi(second);
      phoneErrors.wrongCode(await api.verify(userId, wrongCodeFor(code)), 4);
      await api.verify(userId, code).expect(200);
      const other = await createHuman(second, { phone: PHONE, phoneMode: 'returnCode' });
      const row = (await phoneCodeRow(second, other.userId))!;
      expect(row.keyId).toBe('k2');
      expect(row.mac).toBe(macOf(key(2), other.userId, PHONE, other.phoneCode!));
    } finally {
      await second.close();
    }
  }, 120_000);
});

const smsLine = (to: string, code: string) =>
  `[sms to ${to}] ${code} is your code to verify your phone number. Do not share it with anyone.\n`;

describe.each(DATABASES)('phone SMS delivery (%s)', (db) => {
  let t: TestApp;
  let api: ReturnType<typeof phoneApi>;
  let sender: SmsSender;

  beforeAll(async () => {
    t = await startPhoneApp(db, { SMS_PROVIDER: 'console' });
    api = phoneApi(t);
    sender = t.app.get(SmsSender);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);
  afterEach(() => jest.restoreAllMocks());

  /** Runs `work` with stdout captured until the outbox has delivered; returns the SMS lines printed. */
  async function smsPrinted(work: () => Promise<unknown>): Promise<string[]> {
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await work();
      await outboxIdle(t);
      return stdout.mock.calls.map(([chunk]) => String(chunk)).filter((line) => line.startsWith('[sms to '));
    } finally {
      stdout.mockRestore();
    }
  }
  const codeIn = (line: string) => /^\[sms to \+\d+\] (\d{6}) is your code/.exec(line)![1];

  it('console: SetPhone without an option prints the code after the commit; the response has no code', async () => {
    expect(sender.name).toBe('console');
    const { userId } = await createHuman(t, { phone: PHONE, phoneMode: 'isVerified' });
    const send = sender.send.bind(sender);
    const seenAtSend: string[][] = [];
    jest.spyOn(sender, 'send').mockImplementation(async (message: SmsMessage) => {
      seenAtSend.push(await committedEventTypes(t, userId));
      return send(message);
    });

    let res: Awaited<ReturnType<typeof api.set>> | undefined;
    const lines = await smsPrinted(async () => {
      res = await api.set(userId, { phone: '+41 78 765 43 21' }).expect(200);
    });

    expect(lines).toHaveLength(1);
    const code = codeIn(lines[0]);
    expect(lines[0]).toBe(smsLine('+41787654321', code));
    expect(JSON.stringify(res!.body)).not.toContain(code);
    expect(Object.keys(res!.body)).toEqual(['details']);
    expect(seenAtSend).toEqual([
      [
        'user.human.added',
        'user.human.phone.changed',
        'user.human.phone.verified',
        'user.human.phone.changed',
        'user.human.phone.code.added',
      ],
    ]);
    // the outbox held the code only sealed, and erased it once sent
    const outbox = await dataSourceOf(t).query(
      `SELECT status, sealed_code FROM sms_outbox WHERE user_id = ${db === 'postgres' ? '$1' : '?'}`,
      [userId],
    );
    expect(outbox).toEqual([{ status: 'delivered', sealed_code: null }]);
    await api.verify(userId, code).expect(200);
  });

  it('console: sendCode, ResendPhoneCode and AddHumanUser print; returnCode and isVerified print nothing', async () => {
    const { userId } = await createHuman(t, { phone: PHONE, phoneMode: 'isVerified' });
    const printed: string[] = [];
    for (const call of [
      () => api.set(userId, { phone: '+41787654321', sendCode: {} }).expect(200),
      () => api.resend(userId, {}).expect(200),
      () => api.resend(userId, { sendCode: {} }).expect(200),
      () => api.resend(userId, { returnCode: {} }).expect(200),
      () => api.set(userId, { phone: '+41791234568', isVerified: true }).expect(200),
    ]) {
      printed.push(...(await smsPrinted(call)));
    }
    let created: { userId: string } | undefined;
    printed.push(
      ...(await smsPrinted(async () => {
        created = await createHuman(t, { phone: PHONE, phoneMode: 'sendCode' });
      })),
    );
    expect(printed.map((l) => l.slice(0, l.indexOf(']') + 1))).toEqual([
      '[sms to +41787654321]',
      '[sms to +41787654321]',
      '[sms to +41787654321]',
      '[sms to +41791234567]',
    ]);
    await api.verify(created!.userId, codeIn(printed[3])).expect(200);
  });

  it('a failing sender does not change the answer; its error leaks the code into no log, row or event', async () => {
    const { userId } = await createHuman(t, { phone: PHONE, phoneMode: 'isVerified' });
    const sent: SmsMessage[] = [];
    jest.spyOn(sender, 'send').mockImplementation(async (message: SmsMessage) => {
      sent.push(message);
      // like a provider that echoes the request it could not deliver
      if (sent.length === 1) throw new Error(`provider rejected "${message.text}"`);
      throw new SmsDeliveryError(`number blocked, message was "${message.text}"`, false);
    });
    const logsBefore = t.logs.length;

    const res = await api.set(userId, { phone: '+41787654321' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['details']);
    await outboxIdle(t);
    const resent = await api.resend(userId, {});
    expect(resent.status).toBe(200);
    await outboxIdle(t);
    expect(sent.map((m) => m.to)).toEqual(['+41787654321', '+41787654321']);

    const logs = t.logs.slice(logsBefore);
    const failures = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'SMS delivery failed');
    expect(failures.map((f) => [f.level, f.userId, f.retryable, f.giveUp, f.reason])).toEqual([
      [
        40,
        userId,
        true,
        false,
        'provider rejected "[redacted] is your code to verify your phone number. Do not share it with anyone."',
      ],
      [
        40,
        userId,
        false,
        true,
        'number blocked, message was "[redacted] is your code to verify your phone number. Do not share it with anyone."',
      ],
    ]);
    const events = await eventsOf(t, userId);
    expect(events.at(-1)).toMatchObject({
      type: 'user.human.phone.code.delivery.failed',
      payload: { provider: 'console', reason: failures[1].reason },
    });
    const outbox = JSON.stringify(await dataSourceOf(t).query('SELECT * FROM sms_outbox'));
    for (const { code } of sent) {
      for (const line of logs) expect(line).not.toContain(code);
      expect(JSON.stringify(events)).not.toContain(code);
      expect(outbox).not.toContain(code);
    }
    // the API's answer did not depend on the delivery: the code is valid
    await api.verify(userId, sent[1].code).expect(200);
  });
});
