import { Initial1764093600000 } from './1764093600000-Initial';
import { SmsOutboxAndLimits1764180000000 } from './1764180000000-SmsOutboxAndLimits';
import { PhoneCodeSmsQueuedAt1764300000000 } from './1764300000000-PhoneCodeSmsQueuedAt';
import { HotUpdates1764400000000 } from './1764400000000-HotUpdates';
import { SmsFraudCounts1764500000000 } from './1764500000000-SmsFraudCounts';
import { LimitBackoffs1764510000000 } from './1764510000000-LimitBackoffs';
import { SmsDeliveryReceipts1764520000000 } from './1764520000000-SmsDeliveryReceipts';
import { InstanceScope1764531000000 } from './1764531000000-InstanceScope';
import { Retention1764540000000 } from './1764540000000-Retention';
import { WebhookOutbox1764550000000 } from './1764550000000-WebhookOutbox';
import { IdempotentRequests1764560000000 } from './1764560000000-IdempotentRequests';
import { SmsSpend1764570000000 } from './1764570000000-SmsSpend';
import { OutboxChannels1764580000000 } from './1764580000000-OutboxChannels';
import { PhoneCodeVerificationId1764590000000 } from './1764590000000-PhoneCodeVerificationId';

/** Every migration, in order; listed explicitly so the build, the tests and the CLI agree. */
export const MIGRATIONS = [
  Initial1764093600000,
  SmsOutboxAndLimits1764180000000,
  PhoneCodeSmsQueuedAt1764300000000,
  HotUpdates1764400000000,
  SmsFraudCounts1764500000000,
  LimitBackoffs1764510000000,
  SmsDeliveryReceipts1764520000000,
  InstanceScope1764531000000,
  Retention1764540000000,
  WebhookOutbox1764550000000,
  IdempotentRequests1764560000000,
  SmsSpend1764570000000,
  OutboxChannels1764580000000,
  PhoneCodeVerificationId1764590000000,
];
