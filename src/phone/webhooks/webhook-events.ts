import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { AppendedEvent, EventContext } from '../../common/events/event-taps';
import { PhoneEvents } from '../phone-events';

/** The event types a webhook receives, by the internal event each is made from. */
export const WEBHOOK_EVENT_TYPES = {
  [PhoneEvents.codeAdded]: 'phone.code.requested',
  [PhoneEvents.codeSent]: 'phone.code.sent',
  [PhoneEvents.codeDelivered]: 'phone.code.delivered',
  [PhoneEvents.codeDeliveryFailed]: 'phone.code.delivery_failed',
  [PhoneEvents.verified]: 'phone.verified',
  [PhoneEvents.verificationFailed]: 'phone.verification.failed',
  [PhoneEvents.codeSendBlocked]: 'phone.code.blocked',
  [PhoneEvents.removed]: 'phone.removed',
} as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[keyof typeof WEBHOOK_EVENT_TYPES];
export const ALL_WEBHOOK_EVENT_TYPES = Object.values(WEBHOOK_EVENT_TYPES) as WebhookEventType[];

/** The JSON a receiver gets: never the code, never more of the number than its last two digits. */
export interface WebhookBody {
  id: string;
  type: WebhookEventType;
  time: string;
  org: string;
  user: string;
  channel: string;
  country: string | null;
  phoneLast2: string | null;
  correlationId: string | null;
  data: Record<string, string | number | boolean>;
}

/** The payload fields a receiver may see, each only when it is a scalar: nothing else leaves. */
const DATA_FIELDS: Record<WebhookEventType, string[]> = {
  'phone.code.requested': ['codeReturned', 'expiry'],
  'phone.code.sent': ['provider', 'attempts'],
  'phone.code.delivered': ['provider', 'status'],
  'phone.code.delivery_failed': ['provider', 'status', 'errorCode', 'attempts'],
  'phone.verified': [],
  'phone.verification.failed': ['reason'],
  // not the guard's prefix: the number's leading digits are more of it than the last two (the bound)
  'phone.code.blocked': ['rule', 'reason', 'cap'],
  'phone.removed': [],
};

export function webhookTypeOf(internal: string): WebhookEventType | undefined {
  return (WEBHOOK_EVENT_TYPES as Record<string, WebhookEventType>)[internal];
}

function countryOf(event: AppendedEvent, phone: string | null | undefined): string | null {
  if (phone) {
    const country = parsePhoneNumberFromString(phone)?.country;
    if (country) return country;
  }
  const named = event.payload.country;
  return typeof named === 'string' && /^[A-Z]{2}$/.test(named) ? named : null;
}

/** The webhook body of an appended event, or undefined when no webhook type maps to it. */
export function webhookBodyOf(
  event: AppendedEvent,
  subject: { org: string; user: string },
  context: EventContext,
): WebhookBody | undefined {
  const type = webhookTypeOf(event.type);
  if (!type) return undefined;
  const data: Record<string, string | number | boolean> = {};
  for (const field of DATA_FIELDS[type]) {
    const value = event.payload[field];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') data[field] = value;
  }
  const channel = event.payload.channel;
  const digits = context.phone?.replace(/\D/g, '') ?? '';
  return {
    id: event.id,
    type,
    time: event.createdAt.toISOString(),
    org: subject.org,
    user: subject.user,
    channel: typeof channel === 'string' && channel ? channel : 'sms',
    country: countryOf(event, context.phone),
    phoneLast2: digits.length >= 2 ? digits.slice(-2) : null,
    correlationId: context.correlationId ?? null,
    data,
  };
}
