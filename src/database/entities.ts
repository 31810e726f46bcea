import { EventEntity } from '../common/events/event.entity';
import { NodeLeaseEntity } from '../common/ids/node-lease.entity';
import { MembershipEntity } from '../users/entities/membership.entity';
import { OrganizationEntity } from '../users/entities/organization.entity';
import { PersonalAccessTokenEntity } from '../users/entities/personal-access-token.entity';
import { UserEntity } from '../users/entities/user.entity';
import { PhoneCodeEntity } from '../phone/phone-code.entity';
import { SmsOutboxEntity } from '../phone/outbox/sms-outbox.entity';
import { SmsReceiptEntity } from '../phone/outbox/sms-receipt.entity';
import { LimitHitEntity } from '../common/limits/limit-hit.entity';
import { LimitBackoffEntity } from '../common/limits/limit-backoff.entity';
import { IdempotentRequestEntity } from '../phone/idempotency/idempotent-request.entity';
import { SmsFraudCountEntity, SmsVerifiedNumberEntity } from '../phone/fraud/sms-fraud-count.entity';
import { SmsSpendCountEntity } from '../phone/spend/sms-spend-count.entity';
import { WebhookOutboxEntity } from '../phone/webhooks/webhook-outbox.entity';

export const ENTITIES = [
  EventEntity,
  NodeLeaseEntity,
  OrganizationEntity,
  UserEntity,
  MembershipEntity,
  PersonalAccessTokenEntity,
  PhoneCodeEntity,
  SmsOutboxEntity,
  SmsReceiptEntity,
  LimitHitEntity,
  LimitBackoffEntity,
  SmsFraudCountEntity,
  SmsSpendCountEntity,
  SmsVerifiedNumberEntity,
  IdempotentRequestEntity,
  WebhookOutboxEntity,
];
