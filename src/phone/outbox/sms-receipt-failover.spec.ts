import type { AppLogger } from '../../common/logging/app-logger';
import type { Tx } from '../../database/sql';
import type { UserEntity } from '../../users/entities/user.entity';
import { PhoneEvents } from '../phone-events';
import type { PhoneMetrics } from '../phone.metrics';
import type { StepMove } from './channel-steps';
import type { SmsOutboxEntity } from './sms-outbox.entity';
import { SmsReceiptFailover } from './sms-receipt-failover';
import type { SmsRetryPolicy } from './sms-retry-policy';

const NOW = new Date('2026-03-01T10:00:00Z');
const TX = {} as Tx;
const USER = { id: 'u1', phone: '+41791234567' } as UserEntity;
const UNDELIVERED = { provider: 'twilio', status: 'undelivered' as const, errorCode: '30003' };

const rowOf = (fields: Partial<SmsOutboxEntity> = {}) =>
  ({ id: 'o1', userId: 'u1', recipient: USER.phone, attempts: 2, failedProviders: null, ...fields }) as SmsOutboxEntity;

const MOVE: StepMove = {
  fields: { channel: 'voice', status: 'pending', lastError: 'sms: twilio: undelivered (30003)' },
  event: { type: PhoneEvents.codeFallback, payload: { channel: 'sms', nextChannel: 'voice' } },
  from: 'sms',
  to: 'voice',
  reason: 'undelivered',
};

describe(SmsReceiptFailover.name, () => {
  let current: boolean;
  let otherProvider: boolean;
  let nextStep: StepMove | undefined;
  let moved: StepMove[];
  let undelivered: string[];
  let warnings: Array<{ fields: Record<string, unknown>; msg: string }>;
  let sut: SmsReceiptFailover;

  beforeEach(() => {
    [current, otherProvider, nextStep, moved, undelivered, warnings] = [true, true, MOVE, [], [], []];
    const policy = {
      stillCurrent: () => Promise.resolve(current),
      mayRetryAfter: () => otherProvider,
      nextStep: () => nextStep,
      moved: (_row: SmsOutboxEntity, move: StepMove) => void moved.push(move),
    } as unknown as SmsRetryPolicy;
    const metrics = { undelivered: (provider: string) => void undelivered.push(provider) } as unknown as PhoneMetrics;
    const logger = {
      setContext: () => undefined,
      warn: (fields: Record<string, unknown>, msg: string) => void warnings.push({ fields, msg }),
    } as unknown as AppLogger;
    sut = new SmsReceiptFailover(policy, metrics, logger);
  });

  it('sends a current SMS code again now, through the providers that have not failed it', async () => {
    const row = rowOf({ failedProviders: 'plivo' });
    const failover = await sut.decide(TX, row, USER, UNDELIVERED, NOW);
    expect(failover).toEqual({
      outcome: 'retry',
      fields: {
        failedProviders: 'plivo,twilio',
        lastError: 'twilio: undelivered (30003)',
        status: 'pending',
        nextAttemptAt: NOW,
        lockedUntil: null,
        finishedAt: null,
        providerMessageId: null,
      },
    });
    sut.reported(row, failover, UNDELIVERED);
    expect(undelivered).toEqual([]);
    expect(warnings).toEqual([
      {
        fields: expect.objectContaining({ outboxId: 'o1', provider: 'twilio', errorCode: '30003', retry: true }),
        msg: 'SMS undelivered, sending it through the next provider',
      },
    ]);
  });

  it('goes on with the next channel when no SMS provider is left, and reports the move only', async () => {
    otherProvider = false;
    const row = rowOf();
    const failover = await sut.decide(TX, row, USER, UNDELIVERED, NOW);
    expect(failover).toEqual({
      outcome: 'fallback',
      fields: { failedProviders: 'twilio', ...MOVE.fields },
      event: MOVE.event,
      move: MOVE,
    });
    sut.reported(row, failover, UNDELIVERED);
    expect(moved).toEqual([MOVE]);
    expect([undelivered, warnings]).toEqual([[], []]);
  });

  it('does not retry a channel other than SMS through SMS providers: it takes the next step', async () => {
    const failover = await sut.decide(TX, rowOf({ channel: 'whatsapp' }), USER, UNDELIVERED, NOW);
    expect(failover.outcome).toBe('fallback');
  });

  it.each([
    ['the code is no longer current', () => (current = false)],
    ['neither a provider nor a step is left', () => ([otherProvider, nextStep] = [false, undefined])],
  ])('ends the workflow when %s: failed, the code erased, counted and logged', async (_case, arrange) => {
    arrange();
    const row = rowOf();
    const failover = await sut.decide(TX, row, USER, UNDELIVERED, NOW);
    expect(failover).toEqual({
      outcome: 'failed',
      fields: {
        failedProviders: 'twilio',
        lastError: 'twilio: undelivered (30003)',
        status: 'failed',
        sealedCode: null,
        finishedAt: NOW,
        stepDueAt: null,
      },
      event: {
        type: PhoneEvents.codeDeliveryFailed,
        payload: { provider: 'twilio', status: 'undelivered', errorCode: '30003', attempts: 2, channel: 'sms' },
      },
    });
    sut.reported(row, failover, UNDELIVERED);
    expect(undelivered).toEqual(['twilio']);
    expect(moved).toEqual([]);
    expect(warnings.map((w) => [w.msg, w.fields.retry])).toEqual([['SMS undelivered', false]]);
  });
});
