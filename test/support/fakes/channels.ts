import type { AppConfig } from '../../../src/app.config';
import { ChannelWorkflow } from '../../../src/phone/channels/channel-workflow';
import { Channel, ChannelSenders } from '../../../src/phone/sms/channels';
import { NoneSmsSender, SmsSender } from '../../../src/phone/sms/sms-sender';

/** Channel senders from a table: a channel without an entry has none. */
export class FakeChannelSenders extends ChannelSenders {
  constructor(private readonly senders: Partial<Record<Channel, SmsSender>> = { sms: new NoneSmsSender() }) {
    super();
  }

  senderFor(channel: Channel): SmsSender | undefined {
    return this.senders[channel];
  }
}

/** The channel policy of `config` over `senders` (SMS alone unless given). */
export function channelWorkflow(
  config: AppConfig,
  senders: ChannelSenders = new FakeChannelSenders(),
): ChannelWorkflow {
  return new ChannelWorkflow(config.channelRoutes, senders);
}
