import { validateEnvironment } from '../../app.config';
import { ConfigError } from '../../common/config/config-error';
import { parseWebhookEndpoints } from './webhook.settings';

const SECRET = 'k'.repeat(24);

function problemsOf(env: Record<string, string>): string[] {
  try {
    validateEnvironment(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.filter((line) => line.includes('WEBHOOK'));
  }
}

describe('WebhookSettings', () => {
  it('has no receiver by default, and delivery settings for a day', () => {
    const config = validateEnvironment({});
    expect(config.webhooks.endpoints()).toEqual([]);
    expect(config.webhooks.maxAgeMs).toBe(86_400_000);
  });

  it('reads url|secret|types entries; * or nothing means every type', () => {
    const { endpoints, problems } = parseWebhookEndpoints(
      ` https://a.example/hook|${SECRET}|phone.verified, phone.removed ; https://b.example/x?y=1|${SECRET}|*;https://c.example|${SECRET}`,
    );
    expect(problems).toEqual([]);
    expect(endpoints.map((e) => [e.url, [...e.types].length])).toEqual([
      ['https://a.example/hook', 2],
      ['https://b.example/x?y=1', 8],
      ['https://c.example/', 8],
    ]);
    expect([...endpoints[0].types]).toEqual(['phone.verified', 'phone.removed']);
  });

  it('refuses each bad entry by position, never repeating its secret', () => {
    const problems = problemsOf({
      EVENT_WEBHOOKS: [
        `not a url|${SECRET}|*`,
        `https://user:pw@a.example|${SECRET}|*`,
        'https://b.example|short|*',
        `https://c.example|${SECRET}|phone.verified,phone.typo`,
        'https://d.example',
        `https://e.example|${SECRET}|*`,
        `https://e.example|${SECRET}|*`,
      ].join(';'),
    });
    expect(problems).toEqual([
      'EVENT_WEBHOOKS: entry 1: the URL is not an absolute http(s) URL',
      'EVENT_WEBHOOKS: entry 2: the URL must be http(s), without credentials',
      'EVENT_WEBHOOKS: entry 3: the secret must have at least 24 characters',
      expect.stringMatching(
        /^EVENT_WEBHOOKS: entry 4: unknown event type "phone.typo" \(known: phone.code.requested, /,
      ),
      'EVENT_WEBHOOKS: entry 5 must be <url>|<secret>|<event types>',
      'EVENT_WEBHOOKS: entry 7: the URL is listed twice',
    ]);
    expect(problems.join('\n')).not.toContain(SECRET);
  });

  it('wants https in production, except to a loopback address', () => {
    const production = { NODE_ENV: 'production', CODE_HMAC_KEY: Buffer.alloc(32, 1).toString('base64') };
    expect(problemsOf({ ...production, EVENT_WEBHOOKS: `http://hooks.example|${SECRET}|*` })).toEqual([
      'EVENT_WEBHOOKS: entry 1: the URL must be https in production',
    ]);
    expect(problemsOf({ ...production, EVENT_WEBHOOKS: `http://127.0.0.1:9000/h|${SECRET}|*` })).toEqual([]);
  });
});
