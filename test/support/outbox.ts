import { In } from 'typeorm';
import { SmsOutboxEntity } from '../../src/phone/outbox/sms-outbox.entity';
import { SmsOutboxWorker } from '../../src/phone/outbox/sms-outbox.worker';
import { dataSourceOf, TestApp } from './test-app';
import { until } from './wait';

/** The SMS outbox rows of one user or of several, oldest first, read from the table. */
export function outboxOf(t: TestApp, users: string | string[]): Promise<SmsOutboxEntity[]> {
  return dataSourceOf(t)
    .getRepository(SmsOutboxEntity)
    .find({ where: { userId: typeof users === 'string' ? users : In(users) }, order: { createdAt: 'ASC', id: 'ASC' } });
}

export function outboxCount(t: TestApp, userId: string): Promise<number> {
  return dataSourceOf(t).getRepository(SmsOutboxEntity).count({ where: { userId } });
}

/** The user's (first) outbox row once it exists. */
export async function outboxRow(t: TestApp, userId: string): Promise<SmsOutboxEntity> {
  return until(`the outbox row of ${userId}`, async () => (await outboxOf(t, userId))[0]);
}

/** The user's (first) outbox row once it satisfies `check`. */
export async function outboxRowWhen(
  t: TestApp,
  userId: string,
  what: string,
  check: (row: SmsOutboxEntity) => boolean,
): Promise<SmsOutboxEntity> {
  return until(what, async () => {
    const [row] = await outboxOf(t, userId);
    return row && check(row) ? row : undefined;
  });
}

/** Has the outbox worker send what is due now, and waits until it is idle. */
export async function drainOutbox(t: TestApp): Promise<void> {
  const worker = t.app.get(SmsOutboxWorker);
  worker.kick();
  await worker.idle();
}
