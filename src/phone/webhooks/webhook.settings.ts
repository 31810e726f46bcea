import { DurationRange, IntRange, Optional, Setting, SettingsGroup, Text } from '../../common/config/setting';
import { ALL_WEBHOOK_EVENT_TYPES, WebhookEventType } from './webhook-events';

/** One receiver of EVENT_WEBHOOKS. */
export interface WebhookEndpoint {
  url: string;
  secret: string;
  types: ReadonlySet<WebhookEventType>;
}

const MIN_SECRET = 24;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * `<url>|<secret>|<types>` entries separated by `;`, types comma-separated (`*` or nothing: all).
 * Problems name the entry by its position and never repeat a secret.
 */
export function parseWebhookEndpoints(
  text: string | undefined,
  production = false,
): { endpoints: WebhookEndpoint[]; problems: string[] } {
  const endpoints: WebhookEndpoint[] = [];
  const problems: string[] = [];
  const entries = (text ?? '')
    .split(';')
    .map((entry) => entry.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    const name = `EVENT_WEBHOOKS: entry ${i + 1}`;
    const [rawUrl, secret, rawTypes, ...rest] = entry.split('|').map((part) => part.trim());
    if (rest.length > 0 || secret === undefined) {
      return problems.push(`${name} must be <url>|<secret>|<event types>`);
    }
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return problems.push(`${name}: the URL is not an absolute http(s) URL`);
    }
    if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password) {
      return problems.push(`${name}: the URL must be http(s), without credentials`);
    }
    if (production && url.protocol !== 'https:' && !LOOPBACK.has(url.hostname)) {
      return problems.push(`${name}: the URL must be https in production`);
    }
    if (secret.length < MIN_SECRET)
      return problems.push(`${name}: the secret must have at least ${MIN_SECRET} characters`);
    const wanted = !rawTypes || rawTypes === '*' ? ALL_WEBHOOK_EVENT_TYPES : rawTypes.split(',').map((t) => t.trim());
    const unknown = wanted.filter((type) => !(ALL_WEBHOOK_EVENT_TYPES as string[]).includes(type));
    if (unknown.length > 0) {
      return problems.push(
        `${name}: unknown event type ${unknown.map((t) => JSON.stringify(t)).join(', ')} ` +
          `(known: ${ALL_WEBHOOK_EVENT_TYPES.join(', ')})`,
      );
    }
    if (endpoints.some((endpoint) => endpoint.url === url.href))
      return problems.push(`${name}: the URL is listed twice`);
    endpoints.push({ url: url.href, secret, types: new Set(wanted as WebhookEventType[]) });
  });
  return { endpoints, problems };
}

@SettingsGroup(
  'Event webhooks',
  'Signed calls to your endpoints for every phone event, through an outbox written with the event ([docs/webhooks.md](webhooks.md), [ADR 0024](adr/0024-event-webhooks.md)).',
)
export class WebhookSettings {
  @Setting(
    'EVENT_WEBHOOKS',
    'receivers, `;`-separated: `<url>|<secret>|<event types, comma-separated, or *>` (secret: at least 24 characters; see docs/webhooks.md)',
  )
  @Optional()
  @Text('a list of <url>|<secret>|<event types> entries')
  readonly endpointsText?: string = undefined;

  @Setting('WEBHOOK_MAX_AGE', 'give up delivering an event to an endpoint after this long')
  @DurationRange('1m', '7d')
  readonly maxAgeMs: number = 86_400_000;

  @Setting('WEBHOOK_RETRY_BASE', 'first retry delay, doubled per attempt with jitter up to `WEBHOOK_RETRY_MAX_DELAY`')
  @DurationRange('100ms', '10m')
  readonly retryBaseMs: number = 5_000;

  @Setting('WEBHOOK_RETRY_MAX_DELAY', 'longest pause between two attempts of a delivery')
  @DurationRange('1s', '6h')
  readonly retryMaxDelayMs: number = 3_600_000;

  @Setting('WEBHOOK_TIMEOUT', 'how long a receiver has to answer')
  @DurationRange('1s', '60s', ', such as 10s')
  readonly timeoutMs: number = 10_000;

  @Setting('WEBHOOK_CONCURRENCY', 'deliveries one instance makes at the same time')
  @IntRange(1, 256)
  readonly concurrency: number = 8;

  @Setting('WEBHOOK_POLL_INTERVAL', 'how often the worker looks for due deliveries')
  @DurationRange('50ms', '1m')
  readonly pollIntervalMs: number = 1_000;

  @Setting('WEBHOOK_OUTBOX_RETENTION', 'how long a delivered or abandoned delivery is kept after it ended')
  @DurationRange('1h', '3650d')
  readonly retentionMs: number = 7 * 86_400_000;

  private parsed?: WebhookEndpoint[];

  /** The receivers, parsed once (a start with bad ones was refused). */
  endpoints(): WebhookEndpoint[] {
    this.parsed ??= parseWebhookEndpoints(this.endpointsText).endpoints;
    return this.parsed;
  }

  problems(context: { production: boolean }): string[] {
    return parseWebhookEndpoints(this.endpointsText, context.production).problems;
  }
}

/** How long an instance owns a delivery it makes: twice the longest WEBHOOK_TIMEOUT. */
export const LEASE_MS = 120_000;
