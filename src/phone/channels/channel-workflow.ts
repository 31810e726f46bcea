import { Injectable } from '@nestjs/common';
import { ConfigError } from '../../common/config/config-error';
import { Channel, CHANNELS, ChannelSenders } from '../sms/channels';
import { ChannelPolicy, nextChannel, routedChannels, stepTimeoutOf, workflowFor } from './channel-routes';
import { ChannelRoutesSettings } from './channel-routes.settings';

/**
 * The channel policy (CHANNEL_ROUTES and its timeouts and cap) over the channels that have a
 * sender. A route naming a channel without one stops the start, as a bad setting does.
 */
@Injectable()
export class ChannelWorkflow {
  private readonly policy: ChannelPolicy;

  constructor(
    settings: ChannelRoutesSettings,
    private readonly senders: ChannelSenders,
  ) {
    this.policy = settings.policy();
    const missing = routedChannels(this.policy.routes).filter((channel) => !senders.senderFor(channel));
    if (missing.length > 0) {
      const where = [...this.policy.routes].find(([, channels]) => channels.includes(missing[0]))![0];
      throw new ConfigError([
        `CHANNEL_ROUTES: ${where}: channel "${missing[0]}" has no sender configured (configure its provider or take it out of the route)`,
      ]);
    }
  }

  /** The channels a new code to `e164` goes through; `first` (a risk hook's choice) leads when it has a sender. */
  channelsFor(e164: string, first?: Channel): Channel[] {
    return workflowFor(this.policy, e164, first && this.senders.senderFor(first) ? first : undefined);
  }

  /** When a step started at `from` on `channel` times out, if there is a step after it (else null). */
  stepDueAt(
    row: { channel?: string | null; channels?: string | null; step?: number | null },
    channel: Channel,
    from: Date,
  ): Date | null {
    return nextChannel(row) === undefined ? null : new Date(from.getTime() + stepTimeoutOf(this.policy, channel));
  }

  /** Whether a code may have a second step (a route's, or a risk hook's channel first): then timed-out steps are looked for. */
  get fallsBack(): boolean {
    const routed = [...this.policy.routes.values()].some((channels) => channels.length > 1);
    const sending = CHANNELS.filter((channel) => this.senders.senderFor(channel)).length;
    return this.policy.maxFallbacks > 0 && (routed || sending > 1);
  }

  /** The shortest step timeout (how often timed-out steps are looked for). */
  get shortestStepMs(): number {
    return Math.min(this.policy.stepTimeoutMs, ...this.policy.stepTimeouts.values());
  }
}
