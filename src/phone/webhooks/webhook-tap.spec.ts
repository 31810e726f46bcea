import { EventTaps } from '../../common/events/event-taps';
import type { Aggregate } from '../../common/events/events.repository';
import type { IdGenerator } from '../../common/ids/id-generator';
import type { Tx } from '../../database/sql';
import { UserEntity } from '../../users/entities/user.entity';
import { SequentialIds } from '../../../test/support/fakes/ids';
import { unitConfig } from '../../../test/support/fakes/config';
import { PhoneEvents } from '../phone-events';
import { WebhookOutboxEntity } from './webhook-outbox.entity';
import type { WebhookOutboxRepository } from './webhook-outbox.repository';
import { WebhookTap } from './webhook-tap';

const SECRET = 's'.repeat(24);
const AT = new Date('2026-12-08T03:00:00.000Z');
const TX = {} as Tx;
const user: Aggregate = { target: UserEntity, type: 'user', id: '9', resourceOwner: '7', sequence: 4 };
const appended = (type: string, sequence: number) => ({
  id: `e${sequence}`,
  type,
  payload: {},
  sequence,
  createdAt: AT,
});

function tapWith(endpoints: string) {
  const taps = new EventTaps();
  const written: WebhookOutboxEntity[][] = [];
  const outbox = {
    enqueue: (_tx: Tx, rows: WebhookOutboxEntity[]) => Promise.resolve(void written.push(rows)),
  } as unknown as WebhookOutboxRepository;
  const config = unitConfig({ EVENT_WEBHOOKS: endpoints }).webhooks;
  const tap = new WebhookTap(taps, config, outbox, new SequentialIds() as unknown as IdGenerator);
  return { taps, tap, written };
}

describe(WebhookTap.name, () => {
  it('registers nothing without endpoints: an append writes what it wrote before', () => {
    const { taps } = tapWith('');
    expect(taps.written(TX, user, [appended(PhoneEvents.verified, 5)], {})).toEqual([]);
  });

  it('writes one row per endpoint that wants the type, due at once, given up after WEBHOOK_MAX_AGE', async () => {
    const { taps, written } = tapWith(`https://a.example/h|${SECRET}|*;https://b.example/h|${SECRET}|phone.removed`);
    await Promise.all(
      taps.written(TX, user, [appended(PhoneEvents.changed, 5), appended(PhoneEvents.verified, 6)], {
        correlationId: 'req-1',
        phone: '+41791234567',
      }),
    );
    expect(written).toHaveLength(1);
    const [row, ...others] = written[0];
    expect(others).toEqual([]);
    expect(row).toMatchObject({
      eventId: 'e6',
      eventType: 'phone.verified',
      endpoint: 'https://a.example/h',
      userId: '9',
      sequence: 6,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: AT,
      giveUpAt: new Date(AT.getTime() + 86_400_000),
    });
    expect(JSON.parse(row.body)).toMatchObject({ id: 'e6', org: '7', user: '9', correlationId: 'req-1' });
  });

  it('leaves events of other aggregates (organizations) alone', () => {
    const { taps } = tapWith(`https://a.example/h|${SECRET}|*`);
    const org: Aggregate = { ...user, type: 'org' };
    expect(taps.written(TX, org, [appended(PhoneEvents.verified, 5)], {})).toEqual([]);
  });
});
