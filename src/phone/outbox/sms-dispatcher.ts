import { Injectable } from '@nestjs/common';
import { failed, Outcome, succeeded } from '../../common/outcome';
import { channelOf } from '../channels/channel-routes';
import { ChannelSenders } from '../sms/channels';
import { SmsAccepted, SmsDeliveryError, SmsSender, withoutCode } from '../sms/sms-sender';
import { SmsText } from '../sms/sms-text';
import { OutboxCipher } from './outbox-cipher';
import { DeliveryTarget } from './sms-delivery-rows';
import { SmsOutboxEntity } from './sms-outbox.entity';

/**
 * Opens a message's sealed code and hands it to the sender of the row's channel: an SMS with its
 * text (SmsText), another channel with the code and the language, which its sender renders.
 */
@Injectable()
export class SmsDispatcher {
  constructor(
    private readonly cipher: OutboxCipher,
    private readonly smsText: SmsText,
    private readonly senders: ChannelSenders,
  ) {}

  /** The name of the row's channel's sender (a provider chain), as failures are counted under it. */
  providerOf(row: SmsOutboxEntity): string {
    return this.senderOf(row)?.name ?? `${channelOf(row)}:none`;
  }

  private senderOf(row: SmsOutboxEntity): SmsSender | undefined {
    return this.senders.senderFor(channelOf(row));
  }

  /** What the provider took, or why it did not; a failure's reason never holds the code. */
  async send(
    row: SmsOutboxEntity,
    { user, expiresAt }: DeliveryTarget,
    failedBefore: string[],
  ): Promise<Outcome<SmsAccepted, SmsDeliveryError>> {
    let code: string | undefined;
    try {
      const channel = channelOf(row);
      const sender = this.senderOf(row);
      // a channel whose sender went away with a restart: the next step's channel takes over
      if (!sender) return failed(new SmsDeliveryError(`no sender for the ${channel} channel`, false));
      code = this.cipher.open(row.id, row.sealedCode!);
      const language = user.preferredLanguage ?? undefined;
      const text =
        channel === 'sms'
          ? this.smsText.render({ code, displayName: user.displayName, language: user.preferredLanguage })
          : '';
      return succeeded(
        await sender.send({
          id: row.id,
          to: row.recipient,
          text,
          code,
          ...(language ? { language } : {}),
          userId: row.userId,
          orgId: row.orgId,
          expiresAt,
          ...(failedBefore.length > 0 ? { skipProviders: failedBefore } : {}),
        }),
      );
    } catch (error) {
      const delivery =
        error instanceof SmsDeliveryError
          ? error
          : new SmsDeliveryError(String((error as Error)?.message ?? error), true);
      // the reason is logged, stored and put in an event: a provider echoing the text must not leak the code
      return failed(code ? withoutCode(delivery, code) : delivery);
    }
  }
}
