import { Injectable } from '@nestjs/common';
import { SmsSender } from './sms-sender';

/** The ways a code reaches a phone. SMS is always configured (SMS_PROVIDER). */
export const CHANNELS = ['sms', 'whatsapp', 'voice'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Each configured channel's sender (a provider chain, as SMS_PROVIDER is for SMS); undefined when not configured. */
export abstract class ChannelSenders {
  abstract senderFor(channel: Channel): SmsSender | undefined;
}

/** SMS only: the channel senders when no other channel is configured. */
@Injectable()
export class SmsOnlyChannelSenders extends ChannelSenders {
  constructor(private readonly sms: SmsSender) {
    super();
  }

  senderFor(channel: Channel): SmsSender | undefined {
    return channel === 'sms' ? this.sms : undefined;
  }
}
