import { advances, DELIVERY_STATUSES, DeliveryStatus, isFailure, receiptUrl } from './delivery-receipt';

describe('the order of delivery statuses', () => {
  it.each<[DeliveryStatus | null, DeliveryStatus, boolean]>([
    [null, 'queued', true],
    [null, 'undelivered', true],
    ['queued', 'sent', true],
    ['sent', 'queued', false],
    ['sent', 'sent', false],
    ['sent', 'delivered', true],
    ['delivered', 'sent', false],
    ['delivered', 'queued', false],
    ['delivered', 'undelivered', false],
    ['delivered', 'failed', false],
    ['delivered', 'delivered', false],
    ['undelivered', 'delivered', true],
    ['failed', 'delivered', true],
    ['undelivered', 'failed', false],
    ['failed', 'undelivered', false],
    ['undelivered', 'sent', false],
  ])('%s then %s: moves on = %s', (current, next, moves) => {
    expect(advances(current, next)).toBe(moves);
  });

  it('knows which statuses are failures', () => {
    expect(DELIVERY_STATUSES.filter(isFailure)).toEqual(['undelivered', 'failed']);
  });

  it('puts the receipts route under the public base URL, with or without a trailing slash or a path prefix', () => {
    expect(receiptUrl('https://verify.example.com', 'twilio')).toBe(
      'https://verify.example.com/v2/sms/receipts/twilio',
    );
    expect(receiptUrl('https://example.com/pv/', 'webhook')).toBe('https://example.com/pv/v2/sms/receipts/webhook');
  });
});
