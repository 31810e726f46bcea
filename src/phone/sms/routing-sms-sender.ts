import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { DEFAULT_ROUTE, effectiveRoutes } from './sms-routes';
import { SmsAccepted, SmsMessage, SmsSender } from './sms-sender';

/** The destination's country (ISO 3166-1 alpha-2) by libphonenumber's metadata, or undefined. */
export function countryOf(e164: string): string | undefined {
  return parsePhoneNumberFromString(e164)?.country;
}

/**
 * The route a message takes: its country when SMS_ROUTES has an entry for it, else `*`. Also
 * the `route` label of the send metrics, so the label's values are the configured keys only.
 */
export function routeOf(
  country: string | undefined,
  routes: ReadonlySet<string> | ReadonlyMap<string, unknown>,
): string {
  return country !== undefined && routes.has(country) ? country : DEFAULT_ROUTE;
}

/**
 * The providers a message to `e164` is offered to, in order: its country's route of SMS_ROUTES,
 * else `*` (SMS_PROVIDER without SMS_ROUTES). What a receipt's retry may still try.
 */
export function providerChainOf(sms: { provider: string; routes?: string }, e164: string): string[] {
  const routes = effectiveRoutes(sms);
  return routes.get(routeOf(countryOf(e164), routes))!;
}

/**
 * Picks the provider chain for each message by the destination's country (SMS_ROUTES; `*` for
 * every other country) and gives the message the country's sender id (SMS_SENDER_IDS). The chain
 * honours the message's skipProviders.
 */
export class RoutingSmsSender extends SmsSender {
  readonly name = 'routed';

  constructor(
    private readonly routes: ReadonlyMap<string, SmsSender>,
    private readonly senderIds: ReadonlyMap<string, string> = new Map(),
  ) {
    super();
    if (!routes.has(DEFAULT_ROUTE)) throw new Error('RoutingSmsSender needs a default route (*)');
  }

  send(message: SmsMessage): Promise<SmsAccepted> {
    const country = countryOf(message.to);
    const chain = this.routes.get(routeOf(country, this.routes))!;
    const senderId = message.senderId ?? (country === undefined ? undefined : this.senderIds.get(country));
    return chain.send(senderId === undefined ? message : { ...message, senderId });
  }
}
