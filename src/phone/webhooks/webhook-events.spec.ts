import type { AppendedEvent } from '../../common/events/event-taps';
import { PhoneEvents } from '../phone-events';
import { webhookBodyOf, webhookTypeOf } from './webhook-events';

const AT = new Date('2026-12-08T03:00:00.000Z');
const event = (type: string, payload: Record<string, unknown> = {}): AppendedEvent => ({
  id: '42',
  type,
  payload,
  sequence: 3,
  createdAt: AT,
});
const SUBJECT = { org: '7', user: '9' };

describe('webhook event mapping', () => {
  it('maps each phone event a receiver may subscribe to, and no other', () => {
    expect(Object.values(PhoneEvents).map((type) => [type, webhookTypeOf(type)])).toEqual([
      [PhoneEvents.changed, undefined],
      [PhoneEvents.codeAdded, 'phone.code.requested'],
      [PhoneEvents.codeSent, 'phone.code.sent'],
      [PhoneEvents.codeTestNumber, undefined],
      [PhoneEvents.codeSendBlocked, 'phone.code.blocked'],
      [PhoneEvents.codeDeliveryFailed, 'phone.code.delivery_failed'],
      [PhoneEvents.codeDelivered, 'phone.code.delivered'],
      [PhoneEvents.codeFallback, undefined],
      [PhoneEvents.verified, 'phone.verified'],
      [PhoneEvents.verificationFailed, 'phone.verification.failed'],
      [PhoneEvents.removed, 'phone.removed'],
    ]);
    expect(webhookBodyOf(event('user.human.added'), SUBJECT, {})).toBeUndefined();
  });

  it('builds the body: ids, time, country and the last two digits from the number, the correlation id', () => {
    expect(
      webhookBodyOf(event(PhoneEvents.verified), SUBJECT, { correlationId: 'req-1', phone: '+41791234567' }),
    ).toEqual({
      id: '42',
      type: 'phone.verified',
      time: '2026-12-08T03:00:00.000Z',
      org: '7',
      user: '9',
      channel: 'sms',
      country: 'CH',
      phoneLast2: '67',
      correlationId: 'req-1',
      data: {},
    });
  });

  it('carries the rule of whatever blocked the send, its cap or reason, and the channel a payload names', () => {
    const body = webhookBodyOf(
      event(PhoneEvents.codeSendBlocked, {
        rule: 'spend_cap',
        cap: 'org.day',
        country: 'DE',
        prefix: '+49151',
        channel: 'whatsapp',
      }),
      SUBJECT,
      {},
    );
    expect(body).toMatchObject({ channel: 'whatsapp', country: 'DE', phoneLast2: null, correlationId: null });
    // never the prefix: the number's leading digits are more of it than its last two
    expect(body?.data).toEqual({ rule: 'spend_cap', cap: 'org.day' });
    const hook = webhookBodyOf(
      event(PhoneEvents.codeSendBlocked, { rule: 'send_hook', reason: 'risky', prefix: '+49151' }),
      SUBJECT,
      {},
    );
    expect(hook?.data).toEqual({ rule: 'send_hook', reason: 'risky' });
  });

  it('lets out only the listed scalar fields: never a number, a code or an error text', () => {
    const body = webhookBodyOf(
      event(PhoneEvents.codeDeliveryFailed, {
        provider: 'twilio',
        attempts: 2,
        reason: 'twilio: +41791234567 unreachable',
        phone: '+41791234567',
        code: '123456',
        status: { nested: true },
      }),
      SUBJECT,
      { phone: '+41791234567' },
    );
    expect(body?.data).toEqual({ provider: 'twilio', attempts: 2 });
    expect(JSON.stringify(body)).not.toContain('1234567');
    expect(JSON.stringify(body)).not.toContain('123456');
  });
});
