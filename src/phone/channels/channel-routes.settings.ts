import { DurationRange, IntRange, Optional, Setting, SettingsGroup, Text } from '../../common/config/setting';
import { ChannelPolicy, parseChannelRoutes, parseStepTimeouts, SMS_ONLY } from './channel-routes';
import { DEFAULT_ROUTE } from '../sms/sms-routes';

const MIN_STEP = '10s';
const MAX_STEP = '1h';
const MIN_STEP_MS = 10_000;
const MAX_STEP_MS = 3_600_000;

@SettingsGroup(
  'Channels and fallback',
  'Which channels a code goes through, in order, per destination country, and when the next one is tried ([SMS providers: Channels and fallback](sms-providers.md#channels-and-fallback)).',
)
export class ChannelRoutesSettings {
  @Setting(
    'CHANNEL_ROUTES',
    'channel lists per destination country, `IN=whatsapp,sms;DE=sms,voice;*=sms` (`sms`, `whatsapp`, `voice`; `*`: every other country; unset, SMS alone)',
  )
  @Optional()
  @Text('COUNTRY=channels entries separated by ; (* for every other country)')
  readonly routes?: string = undefined;

  @Setting(
    'CHANNEL_STEP_TIMEOUT',
    'how long a step may go without a receipt or a verification before the next channel is tried',
  )
  @DurationRange(MIN_STEP, MAX_STEP)
  readonly stepTimeoutMs: number = 60_000;

  @Setting('CHANNEL_STEP_TIMEOUTS', 'per-channel step timeouts over `CHANNEL_STEP_TIMEOUT`, `whatsapp=30s;voice=2m`')
  @Optional()
  @Text('channel=duration entries separated by ;')
  readonly stepTimeouts?: string = undefined;

  @Setting('CHANNEL_MAX_FALLBACKS', 'at most this many channels after the first, per code')
  @IntRange(0, 2)
  readonly maxFallbacks: number = 2;

  problems(): string[] {
    const problems: string[] = [];
    const routes = this.routes ? parseChannelRoutes(this.routes) : undefined;
    if (typeof routes === 'string') {
      problems.push(
        `CHANNEL_ROUTES: ${routes}; write entries such as IN=whatsapp,sms;DE=sms,voice;*=sms (an ISO country code or *, then channels tried in order)`,
      );
    }
    const timeouts = this.stepTimeouts ? parseStepTimeouts(this.stepTimeouts, MIN_STEP_MS, MAX_STEP_MS) : undefined;
    if (typeof timeouts === 'string') {
      problems.push(
        `CHANNEL_STEP_TIMEOUTS: ${timeouts}; write entries such as whatsapp=30s;voice=2m (each between ${MIN_STEP} and ${MAX_STEP})`,
      );
    }
    return problems;
  }

  /** The policy, from settings that passed `problems()`. */
  policy(): ChannelPolicy {
    const routes = this.routes ? parseChannelRoutes(this.routes) : new Map();
    const timeouts = this.stepTimeouts ? parseStepTimeouts(this.stepTimeouts, MIN_STEP_MS, MAX_STEP_MS) : new Map();
    const read = typeof routes === 'string' ? new Map() : routes;
    if (!read.has(DEFAULT_ROUTE)) read.set(DEFAULT_ROUTE, [...SMS_ONLY]);
    return {
      routes: read,
      maxFallbacks: this.maxFallbacks,
      stepTimeoutMs: this.stepTimeoutMs,
      stepTimeouts: typeof timeouts === 'string' ? new Map() : timeouts,
    };
  }
}
