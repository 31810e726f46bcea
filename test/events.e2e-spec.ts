import { Database } from '../src/database/sql';
import { EventsRepository } from '../src/common/events/events.repository';
import { UserEntity } from '../src/users/entities/user.entity';
import { eventsOf as storedEventsOf } from './support/events';
import { createHuman, createMachineWithToken, createOrg } from './support/factories';
import { bearer, DATABASES, dataSourceOf, Db, startApp, TestApp } from './support/test-app';

interface Details {
  sequence: string;
  changeDate: string;
  resourceOwner: string;
}

describe.each(DATABASES)(`${EventsRepository.name} (%s)`, (db: Db) => {
  let t: TestApp;
  let orgId: string;
  let manager: { userId: string; token: string };

  const param = () => (db === 'postgres' ? '$1' : '?');
  /** The aggregate's events with their time as the API writes it (RFC 3339), to compare with details. */
  const eventsOf = async (aggregateId: string) =>
    (await storedEventsOf(t, aggregateId)).map((e) => ({ ...e, createdAt: new Date(e.createdAt).toISOString() }));
  const userSequence = async (userId: string) =>
    Number((await dataSourceOf(t).query(`SELECT sequence FROM users WHERE id = ${param()}`, [userId]))[0].sequence);

  /** The details of a change are those of the last event it appended; every event of the call shares its time. */
  async function expectDetailsOfLastEvents(aggregateId: string, details: Details, types: string[], creator: string) {
    const events = await eventsOf(aggregateId);
    const appended = events.slice(-types.length);
    expect(appended.map((e) => e.type)).toEqual(types);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
    const last = events[events.length - 1];
    expect(details).toEqual({ sequence: String(last.sequence), changeDate: last.createdAt, resourceOwner: orgId });
    for (const event of appended) {
      expect({ createdAt: event.createdAt, creator: event.creator, resourceOwner: event.resourceOwner }).toEqual({
        createdAt: details.changeDate,
        creator,
        resourceOwner: orgId,
      });
    }
    return appended;
  }

  beforeAll(async () => {
    t = await startApp(db);
    orgId = await createOrg(t);
    manager = await createMachineWithToken(t, orgId, [{ scope: orgId, role: 'ORG_USER_MANAGER' }]);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('AddOrganization appends org.added to the organization', async () => {
    const res = await t
      .http()
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .send({ name: `Evented ${db}` });
    const events = await eventsOf(res.body.organizationId);
    const [adminId] = (await dataSourceOf(t).query(`SELECT id FROM users WHERE username = 'admin'`)).map(
      (r: { id: string }) => r.id,
    );
    expect(events).toEqual([
      {
        sequence: 1,
        type: 'org.added',
        payload: { name: `Evented ${db}`, domain: `evented-${db}.localhost` },
        creator: adminId,
        resourceOwner: res.body.organizationId,
        createdAt: res.body.details.changeDate,
      },
    ]);
    expect(res.body.details.sequence).toBe('1');
  });

  it('AddHumanUser appends the user and its phone events at one time; details are those of the last', async () => {
    const res = await t
      .http()
      .post('/v2/users/human')
      .set(bearer(manager.token))
      .send({
        organization: { orgId },
        profile: { givenName: 'Eve', familyName: 'Vent' },
        email: { email: `eve.${db}@example.com` },
        phone: { phone: '+41 79 123 45 67', returnCode: {} },
      })
      .expect(200);
    const appended = await expectDetailsOfLastEvents(
      res.body.userId,
      res.body.details,
      ['user.human.added', 'user.human.phone.changed', 'user.human.phone.code.added'],
      manager.userId,
    );
    expect(appended[1].payload).toEqual({ phone: '+41791234567' });
    // a code never appears in an event (contract §8)
    expect(JSON.stringify(appended)).not.toContain(res.body.phoneCode);
    expect(await userSequence(res.body.userId)).toBe(3);
  });

  it('CreateUser (machine) appends user.machine.added', async () => {
    const res = await t
      .http()
      .post('/v2/users/new')
      .set(bearer(manager.token))
      .send({ organizationId: orgId, machine: { name: 'evented robot' } })
      .expect(200);
    const [event] = await eventsOf(res.body.id);
    expect(event).toMatchObject({ sequence: 1, type: 'user.machine.added', createdAt: res.body.creationDate });
  });

  it('each state change, token and deletion appends one event whose sequence is in the details', async () => {
    const machine = await createMachineWithToken(t, orgId);
    const changes: Array<[string, 'post' | 'delete', string]> = [
      ['/lock', 'post', 'user.locked'],
      ['/unlock', 'post', 'user.unlocked'],
      ['/deactivate', 'post', 'user.deactivated'],
      ['/reactivate', 'post', 'user.reactivated'],
      ['/pats', 'post', 'user.personal.access.token.added'],
      ['', 'delete', 'user.removed'],
    ];
    for (const [suffix, method, type] of changes) {
      const res = await t.http()[method](`/v2/users/${machine.userId}${suffix}`).set(bearer(manager.token)).send({});
      expect(res.status).toBe(200);
      const details = res.body.details ?? {
        sequence: String(await userSequence(machine.userId)),
        changeDate: res.body.creationDate,
        resourceOwner: orgId,
      };
      await expectDetailsOfLastEvents(machine.userId, details, [type], manager.userId);
      expect(await userSequence(machine.userId)).toBe(Number(details.sequence));
    }
    expect((await eventsOf(machine.userId)).map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('GetUserByID reports the sequence and time of the last event', async () => {
    const { userId } = await createHuman(t, { orgId });
    const locked = await t.http().post(`/v2/users/${userId}/lock`).set(bearer(manager.token)).send({}).expect(200);
    const read = await t.http().get(`/v2/users/${userId}`).set(bearer(manager.token)).expect(200);
    const events = await eventsOf(userId);
    expect(read.body.details).toEqual({
      sequence: String(events.length),
      changeDate: events[events.length - 1].createdAt,
      resourceOwner: orgId,
      creationDate: events[0].createdAt,
    });
    expect(read.body.details.changeDate).toBe(locked.body.details.changeDate);
  });

  it('appends events in the same transaction as the state: a failed append leaves the user unchanged', async () => {
    const { userId } = await createHuman(t, { orgId });
    const ds = dataSourceOf(t);
    if (db === 'postgres') {
      await ds.query(`ALTER TABLE events ADD CONSTRAINT test_refuse_lock CHECK (type <> 'user.locked') NOT VALID`);
    } else {
      await ds.query(`CREATE TRIGGER test_refuse_lock BEFORE INSERT ON events WHEN NEW.type = 'user.locked'
                      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    }
    try {
      const res = await t.http().post(`/v2/users/${userId}/lock`).set(bearer(manager.token)).send({}).expect(500);
      expect(res.body.code).toBe(13);
    } finally {
      await ds.query(
        db === 'postgres' ? 'ALTER TABLE events DROP CONSTRAINT test_refuse_lock' : 'DROP TRIGGER test_refuse_lock',
      );
    }
    const read = await t.http().get(`/v2/users/${userId}`).set(bearer(manager.token)).expect(200);
    expect(read.body.user.state).toBe('USER_STATE_ACTIVE');
    expect(read.body.details.sequence).toBe('1');
    expect((await eventsOf(userId)).map((e) => e.type)).toEqual(['user.human.added']);

    const locked = await t.http().post(`/v2/users/${userId}/lock`).set(bearer(manager.token)).send({}).expect(200);
    expect(locked.body.details.sequence).toBe('2');
  });

  it('refuses an append from a stale sequence with ABORTED and writes nothing; appends several events in order', async () => {
    const { userId } = await createHuman(t, { orgId });
    const store = t.app.get(EventsRepository);
    const db = t.app.get(Database);
    const aggregate = (sequence: number) => ({
      target: UserEntity,
      type: 'user' as const,
      id: userId,
      resourceOwner: orgId,
      sequence,
    });
    const stale = db.transaction((tx) => store.append(tx, aggregate(0), [{ type: 'test.stale' }], manager.userId));
    await expect(stale).rejects.toMatchObject({ code: 10, id: 'EVENT-c0nc1' });
    const events = [{ type: 'test.one', payload: { n: 1 } }, { type: 'test.two' }];
    const details = await db.transaction((tx) => store.append(tx, aggregate(1), events, manager.userId));
    expect(details.sequence).toBe(3);
    expect((await eventsOf(userId)).map((e) => [e.sequence, e.type, e.payload])).toEqual([
      [1, 'user.human.added', expect.any(Object)],
      [2, 'test.one', { n: 1 }],
      [3, 'test.two', {}],
    ]);
    const read = await t.http().get(`/v2/users/${userId}`).set(bearer(manager.token)).expect(200);
    expect(read.body.details.sequence).toBe('3');
  });

  it('keeps one user’s sequence gap-free when 20 lock/unlock requests race', async () => {
    const { userId } = await createHuman(t, { orgId });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t
          .http()
          .post(`/v2/users/${userId}/${i % 2 === 0 ? 'lock' : 'unlock'}`)
          .set(bearer(manager.token))
          .send({}),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) expect([r.status, r.body.code]).toEqual([400, 9]);

    const events = await eventsOf(userId);
    expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: ok.length + 1 }, (_, i) => i + 1));
    // states alternate: every lock is followed by an unlock
    expect(events.slice(1).map((e) => e.type)).toEqual(
      Array.from({ length: ok.length }, (_, i) => (i % 2 === 0 ? 'user.locked' : 'user.unlocked')),
    );
    expect(ok.map((r) => Number(r.body.details.sequence)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: ok.length }, (_, i) => i + 2),
    );
    expect(await userSequence(userId)).toBe(ok.length + 1);
  });

  it('keeps one user’s sequence gap-free when 20 SetPhone requests race', async () => {
    const { userId } = await createHuman(t, { orgId });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t
          .http()
          .post(`/v2/users/${userId}/phone`)
          .set(bearer(manager.token))
          .send({ phone: `+4179123${String(4500 + i)}`, returnCode: {} }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const events = await eventsOf(userId);
    expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    // each call appended its two events together, at one time, and reported the second
    const sequences = results.map((r) => Number(r.body.details.sequence)).sort((a, b) => a - b);
    expect(sequences).toEqual(Array.from({ length: 20 }, (_, i) => 3 + 2 * i));
    for (const r of results) {
      const last = events[Number(r.body.details.sequence) - 1];
      const previous = events[Number(r.body.details.sequence) - 2];
      expect([previous.type, last.type]).toEqual(['user.human.phone.changed', 'user.human.phone.code.added']);
      expect([previous.createdAt, last.createdAt]).toEqual([r.body.details.changeDate, r.body.details.changeDate]);
      expect(JSON.stringify(events)).not.toContain(`"${r.body.verificationCode}"`);
    }
    expect(await userSequence(userId)).toBe(41);
  });
});
