import { SmsDeliveryError, SmsMessage } from '../../src/phone/sms/sms-sender';
import { rejectionOf } from './rejections';

/** A message as the outbox hands it to a provider; a test overrides what it is about. */
export function smsMessage(overrides: Partial<SmsMessage> = {}): SmsMessage {
  return {
    id: '312345678901234567',
    to: '+41791234567',
    text: '482913 is your code to verify your phone number. Do not share it with anyone.',
    code: '482913',
    userId: '298765432109876543',
    orgId: '298765432109876500',
    expiresAt: new Date('2026-12-01T12:05:00Z'),
    ...overrides,
  };
}

/** The SmsDeliveryError a send rejects with; fails the test when it resolves or rejects with anything else. */
export function deliveryFailure(send: Promise<unknown>): Promise<SmsDeliveryError> {
  return rejectionOf(send, SmsDeliveryError);
}
