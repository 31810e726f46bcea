import { closeServer } from '../support/fake-http';
import { deliveryFailure, smsMessage } from '../support/sms-messages';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Clock } from '../../src/common/clock';
import { validateEnvironment } from '../../src/app.config';
import { createSmsSender, FailoverSmsSender } from '../../src/phone/sms/failover-sms-sender';
import {
  ConsoleSmsSender,
  NoneSmsSender,
  SmsAccepted,
  SmsDeliveryError,
  SmsMessage,
  SmsSender,
} from '../../src/phone/sms/sms-sender';
import { TwilioSmsSender } from '../../src/phone/sms/twilio-sms-sender';
import { WebhookSmsSender } from '../../src/phone/sms/webhook-sms-sender';

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';

const message = smsMessage();

/** A provider whose outcome a test chooses; it records what it was asked to send. */
class StubSender extends SmsSender {
  readonly sent: SmsMessage[] = [];
  constructor(
    readonly name: string,
    private readonly outcome: 'accept' | 'retryable' | 'final' | 'bug',
  ) {
    super();
  }

  async send(m: SmsMessage): Promise<SmsAccepted> {
    this.sent.push(m);
    if (this.outcome === 'retryable') throw new SmsDeliveryError(`${this.name}: HTTP 503`, true, 'http_5xx');
    if (this.outcome === 'final') throw new SmsDeliveryError(`${this.name}: HTTP 400`, false, 'http_4xx');
    if (this.outcome === 'bug') throw new TypeError('cannot read properties of undefined');
    return { provider: this.name, providerMessageId: `${this.name}-${this.sent.length}` };
  }
}

describe(FailoverSmsSender.name, () => {
  it('is named after its providers, in order', () => {
    expect(new FailoverSmsSender([new StubSender('webhook', 'accept'), new StubSender('twilio', 'accept')]).name).toBe(
      'webhook,twilio',
    );
  });

  it('stops at the first provider that accepts', async () => {
    const first = new StubSender('webhook', 'accept');
    const second = new StubSender('twilio', 'accept');
    expect(await new FailoverSmsSender([first, second]).send(message)).toEqual({
      provider: 'webhook',
      providerMessageId: 'webhook-1',
    });
    expect(first.sent).toEqual([message]);
    expect(second.sent).toEqual([]);
  });

  it('skips the providers the message names and answers with the one that took it', async () => {
    const first = new StubSender('webhook', 'accept');
    const second = new StubSender('twilio', 'accept');
    const skipping = { ...message, skipProviders: ['webhook'] };
    expect(await new FailoverSmsSender([first, second]).send(skipping)).toEqual({
      provider: 'twilio',
      providerMessageId: 'twilio-1',
    });
    expect(first.sent).toEqual([]);
  });

  it.each(['retryable', 'final', 'bug'] as const)(
    'falls over to the next provider when the first fails (%s)',
    async (outcome) => {
      const first = new StubSender('webhook', outcome);
      const second = new StubSender('twilio', 'accept');
      await new FailoverSmsSender([first, second]).send(message);
      expect(first.sent).toEqual([message]);
      expect(second.sent).toEqual([message]);
    },
  );

  it('gives up when every provider fails for good, naming each failure', async () => {
    const error = await deliveryFailure(
      new FailoverSmsSender([new StubSender('webhook', 'final'), new StubSender('twilio', 'final')]).send(message),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('all SMS providers failed: webhook: HTTP 400; twilio: HTTP 400');
  });

  it.each([
    ['retryable', 'final'],
    ['final', 'retryable'],
    ['bug', 'final'],
  ] as const)('asks for a retry when any failure may pass (%s, %s)', async (a, b) => {
    const error = await deliveryFailure(
      new FailoverSmsSender([new StubSender('webhook', a), new StubSender('twilio', b)]).send(message),
    );
    expect(error.retryable).toBe(true);
  });
});

describe('the error code of a chain that failed', () => {
  it.each([
    [['final', 'final'], 'http_4xx'],
    [['retryable', 'final'], 'http_5xx'],
    [['final', 'retryable'], 'http_5xx'],
    [['retryable', 'bug'], 'other'],
    [['bug', 'final'], 'other'],
  ] as const)('is that of the last failure that keeps the message alive (%j → %s)', async (outcomes, code) => {
    const chain = new FailoverSmsSender(outcomes.map((outcome, i) => new StubSender(`p${i}`, outcome)));
    expect((await deliveryFailure(chain.send(message))).code).toBe(code);
  });
});

describe(createSmsSender.name, () => {
  const config = (env: Record<string, string>) => validateEnvironment(env).sms;
  const twilioEnv = { TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: TOKEN, TWILIO_FROM_NUMBER: '+15005550006' };

  it.each([
    ['console', ConsoleSmsSender],
    ['none', NoneSmsSender],
  ])('builds %s alone, unwrapped', (provider, type) => {
    expect(createSmsSender(config({ SMS_PROVIDER: provider }), new Clock())).toBeInstanceOf(type);
  });

  it('builds the webhook and Twilio providers from their settings', () => {
    const webhook = createSmsSender(
      config({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'http://127.0.0.1:1/sms' }),
      new Clock(),
    );
    expect(webhook).toBeInstanceOf(WebhookSmsSender);
    expect(createSmsSender(config({ SMS_PROVIDER: 'twilio', ...twilioEnv }), new Clock())).toBeInstanceOf(
      TwilioSmsSender,
    );
  });

  it('builds a failover chain from a list', () => {
    const sender = createSmsSender(
      config({ SMS_PROVIDER: 'webhook, twilio,console', SMS_WEBHOOK_URL: 'http://127.0.0.1:1/sms', ...twilioEnv }),
      new Clock(),
    );
    expect(sender).toBeInstanceOf(FailoverSmsSender);
    expect(sender.name).toBe('webhook,twilio,console');
  });

  describe('against a local webhook receiver and a local fake of Twilio', () => {
    let webhookStatus: number;
    const webhookCalls: string[] = [];
    const twilioForms: Record<string, string>[] = [];
    let servers: Server[] = [];

    async function listen(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
      const server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }

    async function chain(): Promise<SmsSender> {
      const webhookBase = await listen((_req, res, body) => {
        webhookCalls.push(body);
        res.writeHead(webhookStatus).end();
      });
      const twilioBase = await listen((req, res, body) => {
        const authorized = req.headers.authorization === `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`;
        if (!authorized || req.url !== `/2010-04-01/Accounts/${SID}/Messages.json`) return res.writeHead(401).end();
        twilioForms.push(Object.fromEntries(new URLSearchParams(body)));
        res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"sid":"SM1","status":"queued"}');
      });
      return createSmsSender(
        config({
          SMS_PROVIDER: 'webhook,twilio',
          SMS_WEBHOOK_URL: `${webhookBase}/sms`,
          TWILIO_BASE_URL: twilioBase,
          ...twilioEnv,
        }),
        new Clock(),
      );
    }

    beforeEach(() => {
      webhookCalls.length = 0;
      twilioForms.length = 0;
    });
    afterEach(async () => {
      for (const server of servers) await closeServer(server);
      servers = [];
    }, 60_000);

    it('delivers through the webhook alone when it accepts', async () => {
      webhookStatus = 204;
      await (await chain()).send(message);
      expect(webhookCalls).toHaveLength(1);
      expect(twilioForms).toEqual([]);
    });

    it.each([503, 400])('falls over to Twilio when the webhook answers %i', async (status) => {
      webhookStatus = status;
      await (await chain()).send(message);
      expect(webhookCalls).toHaveLength(1);
      expect(twilioForms).toEqual([{ To: message.to, Body: message.text, From: '+15005550006' }]);
    });
  });
});
