import type { Client } from 'pg';
import type { Received } from '../../test/support/fake-http';
import type { Instance, Upgrade } from './instances';
import type { Call, DrillUser, Round, SmsInbox } from './load';

/** What every check found wrong, each with its evidence; empty when the drill passed. */
export type Failures = string[];

const WRONG_CODE = 'COMMAND-eis9R';
const EXHAUSTED = 'PHONE-attempts';
const EVENT = {
  changed: 'user.human.phone.changed',
  codeAdded: 'user.human.phone.code.added',
  codeSent: 'user.human.phone.code.sent',
  verified: 'user.human.phone.verified',
  failed: 'user.human.phone.verification.failed',
};

interface StoredEvent {
  aggregateType: string;
  aggregateId: string;
  sequence: number;
  type: string;
  payload: Record<string, any>;
}

/** One user's events between two phone.changed events: one number's story. */
interface Segment {
  number: string;
  types: string[];
  reasons: string[];
}

const answered = (call: Call, status: number, id?: string) =>
  call.outcome === 'answered' && call.status === status && (id === undefined || call.errorId === id);
const describe = (call: Call) =>
  call.outcome === 'answered' ? `${call.status} ${call.errorId ?? ''}`.trim() : `${call.outcome}`;

/**
 * Sequences per aggregate have no gap and no duplicate (1, 2, … n), and each user row's sequence
 * is its last event's.
 */
export async function checkSequences(db: Client, failures: Failures): Promise<StoredEvent[]> {
  const { rows } = await db.query(
    'SELECT aggregate_type, aggregate_id, sequence, type, payload FROM events ORDER BY aggregate_id, sequence',
  );
  const events: StoredEvent[] = rows.map((r) => ({
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    sequence: Number(r.sequence),
    type: r.type,
    payload: JSON.parse(r.payload),
  }));
  const byAggregate = new Map<string, StoredEvent[]>();
  for (const e of events) {
    const key = `${e.aggregateType}:${e.aggregateId}`;
    byAggregate.set(key, [...(byAggregate.get(key) ?? []), e]);
  }
  for (const [key, list] of byAggregate) {
    const broken = list.findIndex((e, i) => e.sequence !== i + 1);
    if (broken >= 0) {
      failures.push(`events of ${key}: sequence ${list.map((e) => e.sequence).join(',')} has a gap or a duplicate`);
    }
  }
  const users = await db.query('SELECT id, sequence FROM users');
  for (const user of users.rows) {
    const last = byAggregate.get(`user:${user.id}`)?.at(-1)?.sequence ?? 0;
    if (Number(user.sequence) !== last) {
      failures.push(`user ${user.id}: row sequence ${user.sequence}, last event ${last}`);
    }
  }
  return events;
}

/**
 * Every answered write is in the database, and nothing else is: per round, SetPhone answered 200
 * has its phone.changed, a 503 or a refusal has none; the verification events lie between what
 * was answered and what was answered plus what got no answer; the user row agrees with its events.
 */
export async function checkWrites(
  db: Client,
  users: DrillUser[],
  events: StoredEvent[],
  failures: Failures,
): Promise<void> {
  const rows = await db.query('SELECT id, phone, phone_verified FROM users WHERE id = ANY($1)', [
    users.map((u) => u.id),
  ]);
  const rowOf = new Map(rows.rows.map((r) => [String(r.id), r]));
  for (const user of users) {
    const segments = segmentsOf(events.filter((e) => e.aggregateType === 'user' && e.aggregateId === user.id));
    const rounds = new Map(user.rounds.map((round) => [round.number, round]));
    for (const segment of segments.values()) {
      if (!rounds.has(segment.number))
        failures.push(`user ${user.index}: phone.changed to ${segment.number}, never asked`);
    }
    for (const round of user.rounds) checkRoundWrites(user, round, segments.get(round.number), failures);

    const row = rowOf.get(user.id);
    const last = [...segments.values()].at(-1);
    if (!row) {
      failures.push(`user ${user.index}: no row`);
    } else if ((row.phone ?? undefined) !== last?.number) {
      failures.push(`user ${user.index}: phone ${row.phone}, last phone.changed ${last?.number}`);
    } else if (Boolean(row.phone_verified) !== (last?.types.includes(EVENT.verified) ?? false)) {
      failures.push(`user ${user.index}: phone_verified ${row.phone_verified}, events of ${last?.number} disagree`);
    }
    // the last SetPhone answered 200 is the phone, unless a later one got no answer (and may have been done)
    const lastOk = user.rounds.findLastIndex((r) => r.calls.some((c) => c.kind === 'set' && answered(c, 200)));
    const possible = user.rounds.filter(
      (r, i) => i === lastOk || (i > lastOk && r.calls.some((c) => c.kind === 'set' && c.outcome === 'unknown')),
    );
    if (lastOk >= 0 && row && !possible.some((r) => r.number === row.phone)) {
      failures.push(
        `user ${user.index}: phone ${row.phone}, but SetPhone ${user.rounds[lastOk].number} was answered 200 last`,
      );
    }
  }
}

function segmentsOf(events: StoredEvent[]): Map<string, Segment> {
  const segments = new Map<string, Segment>();
  let current: Segment | undefined;
  for (const e of events) {
    if (e.type === EVENT.changed) {
      current = { number: String(e.payload.phone), types: [], reasons: [] };
      // a number is set once per user in the drill: a second phone.changed to it would be a write done twice
      if (segments.has(current.number)) current.number += ' (again)';
      segments.set(current.number, current);
    } else if (current) {
      current.types.push(e.type);
      if (e.type === EVENT.failed) current.reasons.push(String(e.payload.reason));
    }
  }
  return segments;
}

function checkRoundWrites(user: DrillUser, round: Round, segment: Segment | undefined, failures: Failures): void {
  const where = `user ${user.index} round ${round.index} (${round.number})`;
  const set = round.calls.find((c) => c.kind === 'set')!;
  if (answered(set, 200) && !segment) failures.push(`${where}: SetPhone answered 200, no phone.changed event`);
  if (set.outcome !== 'unknown' && !answered(set, 200) && segment) {
    failures.push(`${where}: SetPhone answered ${describe(set)} (tries ${tries(set)}), yet phone.changed is stored`);
  }
  if (!segment) return;
  const count = (type: string) => segment.types.filter((t) => t === type).length;
  const reasons = (reason: string) => segment.reasons.filter((r) => r === reason).length;
  const verifies = round.calls.filter((c) => c.kind !== 'set');
  const unknown = verifies.filter((c) => c.outcome === 'unknown').length;
  const within = (what: string, stored: number, low: number) => {
    if (stored < low || stored > low + unknown) {
      failures.push(`${where}: ${stored} ${what} events for ${low} such answers and ${unknown} without answer`);
    }
  };
  if (count(EVENT.codeAdded) !== 1) failures.push(`${where}: ${count(EVENT.codeAdded)} code.added events`);
  within('verified', count(EVENT.verified), verifies.filter((c) => c.kind === 'right' && answered(c, 200)).length);
  within('wrong_code', reasons('wrong_code'), verifies.filter((c) => answered(c, 400, WRONG_CODE)).length);
  within(
    'attempts_exhausted',
    reasons('attempts_exhausted'),
    verifies.filter((c) => answered(c, 429, EXHAUSTED)).length,
  );
}

/**
 * Per code, the attempts are exact: a patient user's one wrong code leaves max-1 attempts and the
 * right code passes; a guesser's parallel wrong codes get exactly `max` wrong-code answers (each
 * attempts-remaining value once) and the rest, the right code included, "too many attempts".
 * With a call that got no answer, the counts may only be lower.
 */
export function checkLimits(users: DrillUser[], maxAttempts: number, failures: Failures): void {
  for (const user of users) {
    for (const round of user.rounds) {
      const where = `user ${user.index} round ${round.index} (${round.style})`;
      const set = round.calls.find((c) => c.kind === 'set')!;
      if (set.outcome === 'answered' && set.status !== 200) {
        failures.push(`${where}: SetPhone answered ${describe(set)} (tries ${tries(set)})`);
      }
      const wrongs = round.calls.filter((c) => c.kind === 'wrong');
      const right = round.calls.find((c) => c.kind === 'right');
      // no code to guess at: SetPhone refused or without answer, or its SMS missing (checked elsewhere)
      if (wrongs.length === 0) continue;
      const unknown = wrongs.some((c) => c.outcome !== 'answered');
      const wrongAnswers = wrongs.filter((c) => answered(c, 400, WRONG_CODE));
      const remaining = wrongAnswers.map((c) => c.attemptsRemaining!).sort((a, b) => b - a);
      const unexpected = wrongs.filter(
        (c) => c.outcome === 'answered' && !answered(c, 400, WRONG_CODE) && !answered(c, 429, EXHAUSTED),
      );
      for (const c of unexpected) failures.push(`${where}: a wrong code answered ${describe(c)}`);
      if (round.style === 'patient') {
        if (wrongAnswers.some((c) => c.attemptsRemaining !== maxAttempts - 1)) {
          failures.push(`${where}: one wrong code left ${remaining.join(',')} attempts, not ${maxAttempts - 1}`);
        }
        if (right?.outcome === 'answered' && !answered(right, 200)) {
          failures.push(`${where}: the right code answered ${describe(right)}`);
        }
        continue;
      }
      const all = Array.from({ length: maxAttempts }, (_, i) => maxAttempts - 1 - i);
      const distinct = new Set(remaining).size === remaining.length && remaining.every((r) => all.includes(r));
      const answers = round.calls.map(
        (c) =>
          `${c.kind} ${describe(c)} ${c.attemptsRemaining ?? ''} [${c.tries.map((t) => t.requestId).join(' ')}, ${c.tries[0]?.phase}]`,
      );
      if (wrongAnswers.length > maxAttempts || !distinct) {
        failures.push(
          `${where}: wrong-code answers left ${remaining.join(',')} attempts (at most ${maxAttempts}): ${answers}`,
        );
      } else if (!unknown && remaining.join() !== all.join()) {
        failures.push(
          `${where}: wrong-code answers left ${remaining.join(',')} attempts, not ${all.join(',')}: ${answers}`,
        );
      }
      if (right?.outcome === 'answered') {
        const exhausted = wrongAnswers.length === maxAttempts;
        if (exhausted ? !answered(right, 429, EXHAUSTED) : !answered(right, 200) && !answered(right, 429, EXHAUSTED)) {
          failures.push(`${where}: the right code after ${wrongAnswers.length} wrong ones answered ${describe(right)}`);
        }
      }
    }
  }
}

/**
 * Each SetPhone with sendCode answered 200 sent exactly one message; one without an answer at
 * most one; any other none. Each message recorded delivered has one code.sent event. The one
 * loss a SIGKILL may cause, and only for a message the killed process sent (each life posts to a
 * path of its own): the provider took it, the process died before recording that, and after
 * SMS_SEND_LEASE another instance either sent it again (the same id and text: at least once, with
 * the Idempotency-Key) or found the code used and marked the message skipped.
 */
export async function checkSms(
  db: Client,
  users: DrillUser[],
  inbox: SmsInbox,
  events: StoredEvent[],
  killed: Set<string>,
  failures: Failures,
): Promise<{ duplicates: number; lostRecords: number }> {
  // "/sms/<instance>/<life>" → "<instance>:<life>", as `killed` names lives
  const sender = (m: Received) => m.path.split('/').slice(-2).join(':');
  const byKilled = (m: Received) => killed.has(sender(m));
  const { rows } = await db.query(
    'SELECT id, user_id, status, attempts, last_error, created_at, finished_at FROM sms_outbox ORDER BY id',
  );
  const outbox = rows.map((r) => ({
    ...r,
    id: String(r.id),
    user_id: String(r.user_id),
    attempts: Number(r.attempts),
  }));
  const rowsOf = new Map<string, typeof outbox>();
  for (const row of outbox) rowsOf.set(row.user_id, [...(rowsOf.get(row.user_id) ?? []), row]);
  const known = new Set<string>();
  for (const user of users) {
    for (const round of user.rounds) {
      known.add(`${user.id}|${round.number}`);
      const where = `user ${user.index} round ${round.index} (${round.number}, ${round.mode})`;
      const ids = new Set(inbox.of(user.id, round.number).map((m) => String(m.json.id)));
      const set = round.calls.find((c) => c.kind === 'set')!;
      const allowed =
        round.mode === 'send' ? (answered(set, 200) ? [1] : set.outcome === 'unknown' ? [0, 1] : [0]) : [0];
      if (!allowed.includes(ids.size)) {
        failures.push(`${where}: ${ids.size} distinct SMS for SetPhone ${describe(set)}`);
      }
      if (round.smsMissing) failures.push(`${where}: the SMS did not arrive within 90 s`);
    }
    const sent = events.filter((e) => e.aggregateId === user.id && e.type === EVENT.codeSent).length;
    const recorded = (rowsOf.get(user.id) ?? []).filter((r) => r.status === 'delivered').length;
    if (sent !== recorded)
      failures.push(`user ${user.index}: ${recorded} messages recorded delivered, ${sent} code.sent events`);
  }
  // the outbox agrees with the provider, but for a message the killed process sent and did not record
  let lostRecords = 0;
  const delivered = new Set(inbox.messages.map((m) => String(m.json.id)));
  for (const row of outbox) {
    const copies = inbox.messages.filter((m) => String(m.json.id) === row.id);
    if (delivered.has(row.id) === (row.status === 'delivered')) continue;
    const sentByKilled = row.status === 'skipped' && row.attempts >= 2 && copies.length === 1 && byKilled(copies[0]);
    if (sentByKilled) lostRecords++;
    else failures.push(`SMS ${row.id}: ${copies.length} received, outbox row ${JSON.stringify(row)}`);
  }
  for (const message of inbox.messages) {
    if (!known.has(`${message.json.userId}|${message.json.to}`)) {
      failures.push(`an SMS to ${message.json.to} for user ${message.json.userId} that no SetPhone asked for`);
    }
  }
  const byId = new Map<string, Received[]>();
  for (const m of inbox.messages) byId.set(String(m.json.id), [...(byId.get(String(m.json.id)) ?? []), m]);
  let duplicates = 0;
  for (const [id, copies] of byId) {
    if (copies.length === 1) continue;
    duplicates += copies.length - 1;
    const acrossKill =
      copies.length === 2 && byKilled(copies[0]) && !byKilled(copies[1]) && copies[0].raw === copies[1].raw;
    if (!acrossKill) {
      failures.push(`SMS ${id} received ${copies.length} times, from ${copies.map(sender).join(', ')}`);
    }
  }
  return { duplicates, lostRecords };
}

/** The new build's column and index exist, its migration ran once, and no old instance is left. */
export async function checkUpgrade(
  db: Client,
  schema: string,
  upgrade: Upgrade,
  instances: Instance[],
  failures: Failures,
): Promise<void> {
  const column = await db.query(
    'SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3',
    [schema, upgrade.table, upgrade.column],
  );
  if (column.rowCount !== 1) failures.push(`no column ${upgrade.table}.${upgrade.column} after the upgrade`);
  const index = await db.query(
    `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, upgrade.index],
  );
  if (index.rows[0]?.indisvalid !== true) failures.push(`no valid index ${upgrade.index} after the upgrade`);
  const ran = await db.query('SELECT count(*)::int AS n FROM migrations WHERE name = $1', [upgrade.migration]);
  if (ran.rows[0].n !== 1) failures.push(`migration ${upgrade.migration} recorded ${ran.rows[0].n} times`);
  for (const instance of instances) {
    if (!instance.running || instance.current?.build !== 'new') {
      failures.push(`instance ${instance.index} is not running the new build`);
    }
  }
}

/** Each SIGTERM ended in a clean stop (exit 0, "shutdown complete"); each SIGKILL in that signal. */
export function checkExits(instances: Instance[], killed: Set<string>, failures: Failures): void {
  for (const instance of instances) {
    const records = instance.records();
    instance.lives.forEach((life, i) => {
      if (!life.exit) return;
      const where = `instance ${instance.index} life ${i} (${life.build})`;
      if (killed.has(`${instance.index}:${i}`)) {
        if (life.exit.signal !== 'SIGKILL')
          failures.push(`${where}: SIGKILL ended it with ${JSON.stringify(life.exit)}`);
        return;
      }
      const complete = records.find((r) => r.life === i && r.msg === 'shutdown complete');
      if (life.exit.code !== 0 || complete?.exitCode !== 0) {
        failures.push(
          `${where}: SIGTERM ended it with ${JSON.stringify(life.exit)}, shutdown record ${JSON.stringify(complete)}`,
        );
      }
    });
  }
}

/** Every answer other than 503 below 500, and none from the proxy (at most one instance is ever down). */
export function checkAnswers(users: DrillUser[], failures: Failures): void {
  for (const user of users) {
    for (const round of user.rounds) {
      for (const call of round.calls) {
        for (const t of call.tries) {
          if (t.byProxy) failures.push(`${t.requestId} (${call.kind}, ${t.endedIn}): the proxy found no instance`);
          else if (t.status !== undefined && t.status >= 500 && t.status !== 503) {
            failures.push(`${t.requestId} (${call.kind}, ${t.endedIn}): ${t.status} ${JSON.stringify(t.body)}`);
          }
        }
      }
    }
  }
}

const tries = (call: Call) => call.tries.map((t) => t.status ?? t.error).join(' → ');
