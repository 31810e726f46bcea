import { parseDuration } from '../../common/config/duration';
import { countryOf, routeOf } from '../sms/routing-sms-sender';
import { Channel, CHANNELS } from '../sms/channels';
import { DEFAULT_ROUTE, entries } from '../sms/sms-routes';

/** Without CHANNEL_ROUTES, or for a country it does not name and no `*`: SMS alone. */
export const SMS_ONLY: readonly Channel[] = ['sms'];

const isChannel = (name: string): name is Channel => (CHANNELS as readonly string[]).includes(name);

/**
 * CHANNEL_ROUTES read: country (ISO 3166-1 alpha-2) or `*` → channels in order, each once. A string
 * is the reason the setting cannot be read.
 */
export function parseChannelRoutes(setting: string): Map<string, Channel[]> | string {
  const read = entries(setting, /^([A-Z]{2}|\*)$/);
  if (typeof read === 'string') return read;
  const routes = new Map<string, Channel[]>();
  for (const { key, value } of read) {
    const names = value.split(',').map((name) => name.trim());
    const unknown = names.find((name) => !isChannel(name));
    if (unknown !== undefined) return `${key}: unknown channel "${unknown}" (known: ${CHANNELS.join(', ')})`;
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) return `${key}: ${twice} appears twice`;
    routes.set(key, names as Channel[]);
  }
  return routes;
}

/** CHANNEL_STEP_TIMEOUTS read: channel → milliseconds, or the reason it cannot be read. */
export function parseStepTimeouts(setting: string, minMs: number, maxMs: number): Map<Channel, number> | string {
  const read = entries(setting, /^[a-z]+$/);
  if (typeof read === 'string') return read;
  const timeouts = new Map<Channel, number>();
  for (const { key, value } of read) {
    if (!isChannel(key)) return `unknown channel "${key}" (known: ${CHANNELS.join(', ')})`;
    const ms = parseDuration(value);
    if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) return `${key}: "${value}" is not a duration in range`;
    timeouts.set(key, ms);
  }
  return timeouts;
}

/** The workflow policy, read once from validated settings. */
export interface ChannelPolicy {
  routes: ReadonlyMap<string, readonly Channel[]>;
  /** fallbacks per code: the workflow has at most this many steps after the first */
  maxFallbacks: number;
  stepTimeoutMs: number;
  stepTimeouts: ReadonlyMap<Channel, number>;
}

/**
 * The channels a code to `e164` goes through, in order: the risk hook's `first` when given (then
 * the route's others), else the country's route (`*` for the rest); cut to 1 + maxFallbacks steps.
 */
export function workflowFor(policy: ChannelPolicy, e164: string, first?: Channel): Channel[] {
  const route = policy.routes.get(routeOf(countryOf(e164), policy.routes)) ?? SMS_ONLY;
  const ordered = first === undefined ? [...route] : [first, ...route.filter((channel) => channel !== first)];
  return ordered.slice(0, 1 + policy.maxFallbacks);
}

/** How long a step may stay without a failure, a receipt or a verification before the next is tried. */
export function stepTimeoutOf(policy: ChannelPolicy, channel: Channel): number {
  return policy.stepTimeouts.get(channel) ?? policy.stepTimeoutMs;
}

/** A workflow as an outbox row keeps it ("whatsapp,sms"), and back; an old release's row is SMS alone. */
export function workflowText(channels: readonly Channel[]): string {
  return channels.join(',');
}

export function workflowOf(row: { channel?: string | null; channels?: string | null }): Channel[] {
  if (row.channels) return row.channels.split(',').filter(isChannel);
  return [row.channel && isChannel(row.channel) ? row.channel : 'sms'];
}

/** The channel the row's next step uses, or undefined at the workflow's last step. */
export function nextChannel(row: {
  channel?: string | null;
  channels?: string | null;
  step?: number | null;
}): Channel | undefined {
  return workflowOf(row)[(row.step ?? 0) + 1];
}

/** The channel a row is sent on (an old release's row: sms). */
export function channelOf(row: { channel?: string | null }): Channel {
  return row.channel && isChannel(row.channel) ? row.channel : 'sms';
}

/** Every channel a route names, once each. */
export function routedChannels(routes: ReadonlyMap<string, readonly Channel[]>): Channel[] {
  return [...new Set([...routes.values()].flat())];
}

export { DEFAULT_ROUTE };
