import { FakeHttpServer } from '../support/fake-http';
import { ManualClock } from '../support/fakes/clock';
import { deliveryFailure, smsMessage } from '../support/sms-messages';
import { validateEnvironment } from '../../src/app.config';
import type { SmsSettings } from '../../src/phone/sms/sms.settings';
import { LimitMetrics } from '../../src/common/limits/limit.metrics';
import { Metrics } from '../../src/common/metrics/metrics';
import { PhoneMetrics } from '../../src/phone/phone.metrics';
import { createSmsSender, FailoverSmsSender } from '../../src/phone/sms/failover-sms-sender';
import { MessageBirdReceiptParser } from '../../src/phone/sms/messagebird-sms-sender';
import { receiptParsers } from '../../src/phone/sms/provider-receipt-parsers';
import { countryOf, providerChainOf, routeOf, RoutingSmsSender } from '../../src/phone/sms/routing-sms-sender';
import { SmsAccepted, SmsDeliveryError, SmsMessage, SmsSender } from '../../src/phone/sms/sms-sender';
import { VonageReceiptParser } from '../../src/phone/sms/vonage-sms-sender';
import { WebhookSmsSender } from '../../src/phone/sms/webhook-sms-sender';

/** A provider whose outcome a test chooses; it records what it was asked to send. */
class StubSender extends SmsSender {
  readonly sent: SmsMessage[] = [];
  constructor(
    readonly name: string,
    private readonly outcome: 'accept' | 'retryable' | 'final' = 'accept',
  ) {
    super();
  }

  async send(m: SmsMessage): Promise<SmsAccepted> {
    this.sent.push(m);
    if (this.outcome === 'retryable') throw new SmsDeliveryError(`${this.name}: HTTP 503`, true, 'http_5xx');
    if (this.outcome === 'final') throw new SmsDeliveryError(`${this.name}: HTTP 400`, false, 'http_4xx');
    return { provider: this.name };
  }
}

const SWISS = '+41791234567';
const US = '+12015550123';
const GERMAN = '+4915123456789';
const CANADIAN = '+16135550123';

describe(countryOf.name, () => {
  it.each([
    [SWISS, 'CH'],
    [US, 'US'],
    [GERMAN, 'DE'],
    [CANADIAN, 'CA'],
    ['+999', undefined],
  ])('%s is in %s', (number, country) => {
    expect(countryOf(number)).toBe(country);
  });
});

describe(routeOf.name, () => {
  it('is the country when it has a route, else *', () => {
    const routes = new Set(['CH', 'US', '*']);
    expect(routeOf('CH', routes)).toBe('CH');
    expect(routeOf('DE', routes)).toBe('*');
    expect(routeOf(undefined, routes)).toBe('*');
  });
});

describe(providerChainOf.name, () => {
  it("is the chain of the number's route, or SMS_PROVIDER's without routes", () => {
    const routes = { provider: 'webhook', routes: 'CH=twilio,vonage;US=sns' };
    expect(providerChainOf(routes, SWISS)).toEqual(['twilio', 'vonage']);
    expect(providerChainOf(routes, US)).toEqual(['sns']);
    expect(providerChainOf(routes, GERMAN)).toEqual(['webhook']);
    expect(providerChainOf({ ...routes, routes: 'CH=vonage;*=messagebird' }, GERMAN)).toEqual(['messagebird']);
    expect(providerChainOf({ provider: 'webhook, twilio' }, SWISS)).toEqual(['webhook', 'twilio']);
  });
});

describe(RoutingSmsSender.name, () => {
  function router(senderIds = new Map<string, string>()) {
    const [twilio, vonage, webhook, messagebird] = ['twilio', 'vonage', 'webhook', 'messagebird'].map(
      (name) => new StubSender(name),
    );
    const routes = new Map<string, SmsSender>([
      ['CH', new FailoverSmsSender([twilio, vonage])],
      ['US', new FailoverSmsSender([messagebird])],
      ['*', new FailoverSmsSender([webhook])],
    ]);
    return { sender: new RoutingSmsSender(routes, senderIds), twilio, vonage, webhook, messagebird };
  }

  it('sends each message along the route of its country, others along *', async () => {
    const r = router();
    expect(await r.sender.send(smsMessage({ to: SWISS }))).toEqual({ provider: 'twilio' });
    expect(await r.sender.send(smsMessage({ to: US }))).toEqual({ provider: 'messagebird' });
    expect(await r.sender.send(smsMessage({ to: GERMAN }))).toMatchObject({ provider: 'webhook' });
    expect(await r.sender.send(smsMessage({ to: CANADIAN }))).toMatchObject({ provider: 'webhook' }); // +1, but not US
    expect([r.twilio, r.messagebird, r.webhook, r.vonage].map((s) => s.sent.length)).toEqual([1, 1, 2, 0]);
  });

  it('honours skipProviders within the route', async () => {
    const r = router();
    expect(await r.sender.send(smsMessage({ to: SWISS, skipProviders: ['twilio'] }))).toEqual({ provider: 'vonage' });
    expect(r.twilio.sent).toEqual([]);
  });

  it('fails when every provider of the route is skipped, without trying another route', async () => {
    const r = router();
    const error = await deliveryFailure(r.sender.send(smsMessage({ to: US, skipProviders: ['messagebird'] })));
    expect(error.retryable).toBe(false);
    expect(r.webhook.sent).toEqual([]);
  });

  it("gives the message its country's sender id, and none for a country without one", async () => {
    const r = router(new Map([['CH', 'MyApp CH']]));
    await r.sender.send(smsMessage({ to: SWISS }));
    await r.sender.send(smsMessage({ to: GERMAN }));
    expect(r.twilio.sent[0].senderId).toBe('MyApp CH');
    expect(r.webhook.sent[0].senderId).toBeUndefined();
  });

  it('needs a default route', () => {
    expect(() => new RoutingSmsSender(new Map([['CH', new StubSender('twilio')]]))).toThrow('default route');
  });
});

describe('createSmsSender with SMS_ROUTES, against local fakes of Vonage and the webhook', () => {
  const vonage = new FakeHttpServer();
  const webhook = new FakeHttpServer();
  const clock = new ManualClock('2026-12-01T12:00:00Z');
  let metrics: Metrics;
  let phoneMetrics: PhoneMetrics;
  let config: SmsSettings;

  beforeAll(async () => {
    await vonage.start();
    await webhook.start();
  });
  afterAll(async () => {
    await vonage.close();
    await webhook.close();
  });
  beforeEach(() => {
    vonage.requests.length = 0;
    webhook.requests.length = 0;
    vonage.handler = () => ({
      status: 200,
      body: JSON.stringify({ 'message-count': '1', messages: [{ status: '0', 'message-id': '0A00000001' }] }),
    });
    webhook.handler = () => ({ status: 204 });
    config = validateEnvironment({
      SMS_ROUTES: 'CH=vonage,webhook;*=webhook',
      SMS_SENDER_IDS: 'CH=MyApp CH;DE=MyApp DE',
      SMS_RECEIPTS_BASE_URL: 'https://verify.example.com/',
      SMS_WEBHOOK_URL: `${webhook.url}/sms`,
      VONAGE_BASE_URL: vonage.url,
      VONAGE_API_KEY: 'a1b2c3d4',
      VONAGE_API_SECRET: 'Zx9Yw8Vu7Ts6Rq5P',
      VONAGE_FROM: 'MyApp',
    }).sms;
    metrics = new Metrics();
    phoneMetrics = new PhoneMetrics(
      metrics,
      validateEnvironment({}).codes,
      config,
      new LimitMetrics(metrics),
      validateEnvironment({}).channelRoutes,
    );
  });

  it('sends a Swiss number through Vonage with the Swiss sender id and a German one through the webhook', async () => {
    const sender = createSmsSender(config, clock, phoneMetrics);
    expect(sender).toBeInstanceOf(RoutingSmsSender);
    expect(await sender.send(smsMessage({ to: SWISS }))).toEqual({
      provider: 'vonage',
      providerMessageId: '0A00000001',
    });
    expect(await sender.send(smsMessage({ to: GERMAN }))).toMatchObject({ provider: 'webhook' });
    expect(vonage.requests).toHaveLength(1);
    expect(Object.fromEntries(vonage.requests[0].form)).toMatchObject({
      to: '41791234567',
      from: 'MyApp CH',
      callback: 'https://verify.example.com/v2/sms/receipts/vonage',
      ttl: String(5 * 60_000),
    });
    expect(webhook.requests.map((r) => r.json.to)).toEqual([GERMAN]);
  });

  it('falls over within the Swiss route when Vonage refuses', async () => {
    vonage.handler = () => ({
      status: 200,
      body: JSON.stringify({ 'message-count': '1', messages: [{ status: '1', 'error-text': 'Throttled' }] }),
    });
    expect(await createSmsSender(config, clock).send(smsMessage({ to: SWISS }))).toMatchObject({ provider: 'webhook' });
    expect(vonage.requests).toHaveLength(1);
    expect(webhook.requests).toHaveLength(1);
  });

  it('counts sends by provider, route and result; a country without a route of its own counts as *', async () => {
    vonage.handler = () => ({
      status: 200,
      body: JSON.stringify({ 'message-count': '1', messages: [{ status: '1', 'error-text': 'Throttled' }] }),
    });
    const sender = createSmsSender(config, clock, phoneMetrics);
    await sender.send(smsMessage({ to: SWISS }));
    await sender.send(smsMessage({ to: GERMAN }));
    const text = await metrics.registry.getSingleMetricAsString('pv_sms_sends_total');
    expect(text).toContain('pv_sms_sends_total{provider="vonage",route="CH",result="retryable"} 1');
    expect(text).toContain('pv_sms_sends_total{provider="webhook",route="CH",result="accepted"} 1');
    expect(text).toContain('pv_sms_sends_total{provider="webhook",route="*",result="accepted"} 1');
    expect(text).toContain('pv_sms_sends_total{provider="vonage",route="CH",result="rejected"} 0');
    expect(text).not.toContain('route="DE"');
    expect(text).not.toContain('41791234567');
    const errors = await metrics.registry.getSingleMetricAsString('pv_sms_provider_errors_total');
    expect(errors).toContain('pv_sms_provider_errors_total{provider="vonage",code="vonage_1"} 1');
  });

  it('measures calls under route * without SMS_ROUTES, as before', async () => {
    const plain = validateEnvironment({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${webhook.url}/sms` }).sms;
    const registry = new Metrics();
    const sender = createSmsSender(
      plain,
      clock,
      new PhoneMetrics(
        registry,
        validateEnvironment({}).codes,
        plain,
        new LimitMetrics(registry),
        validateEnvironment({}).channelRoutes,
      ),
    );
    expect(sender).not.toBeInstanceOf(RoutingSmsSender);
    await sender.send(smsMessage({ to: SWISS }));
    expect(await registry.registry.getSingleMetricAsString('pv_sms_sends_total')).toContain(
      'pv_sms_sends_total{provider="webhook",route="*",result="accepted"} 1',
    );
  });

  it('builds a router for SMS_SENDER_IDS alone, with SMS_PROVIDER as the default route', async () => {
    const ids = validateEnvironment({
      SMS_PROVIDER: 'webhook',
      SMS_WEBHOOK_URL: `${webhook.url}/sms`,
      SMS_SENDER_IDS: 'CH=MyApp',
    }).sms;
    const sender = createSmsSender(ids, clock);
    expect(sender).toBeInstanceOf(RoutingSmsSender);
    expect(await sender.send(smsMessage({ to: SWISS }))).toMatchObject({ provider: 'webhook' });
  });

  it('sends a US number through SNS (a local fake of its Query API) with the US sender id', async () => {
    const sns = await new FakeHttpServer().start();
    try {
      sns.handler = () => ({
        status: 200,
        contentType: 'text/xml',
        body:
          '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId>' +
          '</PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>',
      });
      const routed = validateEnvironment({
        SMS_ROUTES: 'US=sns;*=webhook',
        SMS_SENDER_IDS: 'US=MyAppUS',
        SMS_WEBHOOK_URL: `${webhook.url}/sms`,
        SNS_REGION: 'us-east-1',
        SNS_ENDPOINT: sns.url,
        SNS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        SNS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      }).sms;
      const sender = createSmsSender(routed, clock, phoneMetrics);
      expect(await sender.send(smsMessage({ to: US }))).toEqual({ provider: 'sns', providerMessageId: 'm-1' });
      expect(await sender.send(smsMessage({ to: SWISS }))).toMatchObject({ provider: 'webhook' });
      expect(sns.requests).toHaveLength(1);
      expect(Object.fromEntries(sns.requests[0].form)).toMatchObject({
        Action: 'Publish',
        PhoneNumber: US,
        'MessageAttributes.entry.1.Name': 'AWS.SNS.SMS.SMSType',
        'MessageAttributes.entry.1.Value.StringValue': 'Transactional',
        'MessageAttributes.entry.2.Name': 'AWS.SNS.SMS.SenderID',
        'MessageAttributes.entry.2.Value.StringValue': 'MyAppUS',
      });
      expect(sns.requests[0].headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/sns\//,
      );
    } finally {
      await sns.close();
    }
  });

  it('builds the receipt parsers of the configured providers that send receipts', () => {
    expect(receiptParsers(config, clock).map((p) => p.constructor)).toEqual([VonageReceiptParser]);
    const both = validateEnvironment({
      SMS_ROUTES: 'CH=vonage;*=messagebird',
      VONAGE_API_KEY: 'a1b2c3d4',
      VONAGE_API_SECRET: 'Zx9Yw8Vu7Ts6Rq5P',
      VONAGE_FROM: 'MyApp',
      MESSAGEBIRD_ACCESS_KEY: 'live_0123456789abcdef',
      MESSAGEBIRD_ORIGINATOR: 'MyApp',
      SMS_RECEIPTS_BASE_URL: 'https://verify.example.com',
    }).sms;
    expect(receiptParsers(both, clock).map((p) => p.provider)).toEqual(['vonage', 'messagebird']);
    expect(receiptParsers({ ...both, receiptsBaseUrl: undefined } as SmsSettings, clock)).toEqual([]);
    expect(receiptParsers(both, clock)[1]).toBeInstanceOf(MessageBirdReceiptParser);
    const none = validateEnvironment({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${webhook.url}/sms` }).sms;
    expect(receiptParsers(none, clock)).toEqual([]);
    expect(createSmsSender(none, clock)).toBeInstanceOf(WebhookSmsSender);
  });
});
