import { closeServer } from '../support/fake-http';
import { deliveryFailure, smsMessage } from '../support/sms-messages';
import { createServer, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { ManualClock } from '../support/fakes/clock';
import { isRetryableTwilioFailure } from '../../src/phone/sms/twilio-client';
import { TwilioSmsSender, TwilioSmsSenderOptions, validityPeriod } from '../../src/phone/sms/twilio-sms-sender';

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
const SERVICE = 'MG0123456789abcdef0123456789abcdef';

interface Created {
  form: Record<string, string>;
}

type Answer = (res: ServerResponse) => void;

/**
 * A fake of Twilio's Messages endpoint on 127.0.0.1: it checks the path, Basic auth and the form
 * the way Twilio does and answers 201 with a Message, unless a test sets `answer`.
 */
async function startFakeTwilio(): Promise<{ baseUrl: string; created: Created[]; server: Server; answer?: Answer }> {
  const state: { baseUrl: string; created: Created[]; server: Server; answer?: Answer } = {
    baseUrl: '',
    created: [],
    server: createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const json = (status: number, body: object) =>
          res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
        const fail = (status: number, code: number, message: string) =>
          json(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
        const expected = `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`;
        if (req.headers.authorization !== expected) return fail(401, 20003, 'Authenticate');
        if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${SID}/Messages.json`) {
          return fail(404, 20404, 'The requested resource was not found');
        }
        if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') {
          return fail(400, 21201, 'unexpected content type');
        }
        const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
        if (!form.To) return fail(400, 21604, "A 'To' phone number is required.");
        if (!form.Body) return fail(400, 21602, 'Message body is required.');
        if (!form.From && !form.MessagingServiceSid) {
          return fail(400, 21603, "A 'From' phone number or MessagingServiceSid is required.");
        }
        if (state.answer) return state.answer(res);
        state.created.push({ form });
        json(201, { sid: 'SM0123456789abcdef0123456789abcdef', status: 'queued', to: form.To, body: form.Body });
      });
    }),
  };
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.baseUrl = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

describe(TwilioSmsSender.name, () => {
  let fake: Awaited<ReturnType<typeof startFakeTwilio>>;
  const sender = (options: Partial<TwilioSmsSenderOptions> = {}) =>
    new TwilioSmsSender({
      baseUrl: fake.baseUrl,
      accountSid: SID,
      authToken: TOKEN,
      from: '+15005550006',
      timeoutMs: 2000,
      ...options,
    });

  beforeEach(async () => {
    fake = await startFakeTwilio();
  });
  afterEach(async () => {
    await closeServer(fake.server);
  });

  it('creates a Message with To, Body and From', async () => {
    await sender().send(smsMessage());
    expect(fake.created).toEqual([
      {
        form: {
          To: '+41791234567',
          Body: '482913 is your code to verify your phone number. Do not share it with anyone.',
          From: '+15005550006',
        },
      },
    ]);
  });

  it("answers with the Message's sid as the provider's id for it", async () => {
    await expect(sender().send(smsMessage())).resolves.toEqual({
      provider: 'twilio',
      providerMessageId: 'SM0123456789abcdef0123456789abcdef',
    });
  });

  it.each([
    ['a body that is not JSON', 'created'],
    ['a Message without a sid', JSON.stringify({ status: 'queued' })],
    ['a sid that is not a Message SID', JSON.stringify({ sid: 'XX12' })],
  ])('counts a 2xx with %s as accepted, without an id (no retry, no second text)', async (_what, body) => {
    fake.answer = (res) => res.writeHead(201, { 'Content-Type': 'application/json' }).end(body);
    await expect(sender().send(smsMessage())).resolves.toEqual({ provider: 'twilio' });
  });

  it('counts a 2xx whose body never ends within the timeout as accepted, without an id', async () => {
    fake.answer = (res) => res.writeHead(201, { 'Content-Type': 'application/json' }).write('{"sid": "SM');
    await expect(sender({ timeoutMs: 300 }).send(smsMessage())).resolves.toEqual({ provider: 'twilio' });
  });

  it("asks for status callbacks at the receipts URL and passes the code's remaining life as ValidityPeriod", async () => {
    const clock = new ManualClock('2026-12-01T12:00:00Z');
    const callback = 'https://verify.example.com/v2/sms/receipts/twilio';
    await new TwilioSmsSender(
      {
        baseUrl: fake.baseUrl,
        accountSid: SID,
        authToken: TOKEN,
        from: '+15005550006',
        timeoutMs: 2000,
        statusCallbackUrl: callback,
      },
      clock,
    ).send(smsMessage({ expiresAt: new Date('2026-12-01T12:04:59.900Z') }));
    expect(fake.created[0].form).toMatchObject({ ValidityPeriod: '299', StatusCallback: callback });
  });

  it.each([
    [300_000, 300],
    [1_000, 1],
    [1_999, 1],
    [999, undefined],
    [-5_000, undefined],
    [36_000_000, 36_000],
    [86_400_000, 36_000],
  ])('ValidityPeriod of a code with %i ms left: %s (whole seconds, 1..36000)', (left, seconds) => {
    const now = new Date('2026-12-01T12:00:00Z');
    expect(validityPeriod(new Date(now.getTime() + left), now)).toBe(seconds);
  });

  it('uses the messaging service instead of From when configured, and tolerates a trailing slash', async () => {
    await sender({ from: undefined, messagingServiceSid: SERVICE, baseUrl: `${fake.baseUrl}/` }).send(
      smsMessage({ text: 'Zeile 1\n\n@example.com #482913 & ü' }),
    );
    expect(fake.created[0].form).toEqual({
      To: '+41791234567',
      Body: 'Zeile 1\n\n@example.com #482913 & ü',
      MessagingServiceSid: SERVICE,
    });
  });

  it("sends the message's sender id as From, also next to a messaging service", async () => {
    await sender().send(smsMessage({ senderId: 'MyApp CH' }));
    await sender({ from: undefined, messagingServiceSid: SERVICE }).send(smsMessage({ senderId: 'MyApp CH' }));
    expect(fake.created.map((c) => [c.form.From, c.form.MessagingServiceSid])).toEqual([
      ['MyApp CH', undefined],
      ['MyApp CH', SERVICE],
    ]);
  });

  it('gives up when Twilio refuses the credentials', async () => {
    const error = await deliveryFailure(sender({ authToken: 'wrong-token-0123456789' }).send(smsMessage()));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('twilio: HTTP 401, code 20003, Authenticate, https://www.twilio.com/docs/errors/20003');
    expect(fake.created).toEqual([]);
  });

  it('gives up with a wrong account SID', async () => {
    const error = await deliveryFailure(
      sender({ accountSid: 'AC00000000000000000000000000000000' }).send(smsMessage()),
    );
    expect(error.retryable).toBe(false);
  });

  it.each([
    [429, 20429, true, 'twilio_20429'],
    [400, 30001, true, 'twilio_30001'],
    [500, 20500, true, 'twilio_20500'],
    [503, 20503, true, 'twilio_20503'],
    [400, 21211, false, 'twilio_21211'],
    [400, 21408, false, 'twilio_21408'],
    [400, 21610, false, 'twilio_21610'],
    [400, 21614, false, 'twilio_21614'],
    [400, 21612, false, 'twilio_21612'],
    [400, 21606, false, 'twilio_21606'],
    [401, 20003, false, 'twilio_20003'],
    [404, 20404, false, 'twilio_20404'],
    [400, 21617, false, 'http_4xx'],
    [403, 20008, false, 'http_4xx'],
    [500, 12345, true, 'http_5xx'],
    [502, 20001, true, 'http_5xx'],
  ])(
    'maps HTTP %i with Twilio code %i to retryable=%s, metrics code %s',
    async (status, code, retryable, metricsCode) => {
      fake.answer = (res) =>
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(
          JSON.stringify({
            code,
            message: 'refused',
            more_info: `https://www.twilio.com/docs/errors/${code}`,
            status,
          }),
        );
      const error = await deliveryFailure(sender().send(smsMessage()));
      expect(error.retryable).toBe(retryable);
      expect(error.code).toBe(metricsCode);
      expect(error.message).toContain(`twilio: HTTP ${status}, code ${code}, refused`);
    },
  );

  it.each([
    [429, true, 'http_429'],
    [500, true, 'http_5xx'],
    [503, true, 'http_5xx'],
    [400, false, 'http_4xx'],
    [403, false, 'http_4xx'],
  ])(
    'maps HTTP %i without a Twilio error document by its status (retryable=%s, %s)',
    async (status, retryable, code) => {
      fake.answer = (res) => res.writeHead(status, { 'Content-Type': 'text/html' }).end('<html>nope</html>');
      const error = await deliveryFailure(sender().send(smsMessage()));
      expect(error.retryable).toBe(retryable);
      expect(error.code).toBe(code);
      expect(error.message).toBe(`twilio: HTTP ${status}`);
    },
  );

  it('masks the code should Twilio echo it in an error message', async () => {
    fake.answer = (res) =>
      res
        .writeHead(400, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ code: 21617, message: 'Body "482913 is your code" is too long', status: 400 }));
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error.message).not.toContain('482913');
    expect(error.message).toContain('Body "*** is your code" is too long');
  });

  it('gives a retryable failure when Twilio does not answer in time', async () => {
    fake.answer = () => undefined;
    const error = await deliveryFailure(sender({ timeoutMs: 200 }).send(smsMessage()));
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('twilio: no answer within 200 ms');
    expect(error.code).toBe('timeout');
  });

  it('gives a retryable failure when nothing listens', async () => {
    const { baseUrl } = fake;
    await closeServer(fake.server);
    fake = await startFakeTwilio(); // for afterEach
    const error = await deliveryFailure(sender({ baseUrl }).send(smsMessage()));
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('twilio: request failed (ECONNREFUSED)');
    expect(error.code).toBe('network');
  });

  it('needs exactly one of From and MessagingServiceSid', () => {
    expect(() => sender({ messagingServiceSid: SERVICE })).toThrow('exactly one of from and messagingServiceSid');
    expect(() => sender({ from: undefined })).toThrow('exactly one of from and messagingServiceSid');
  });

  it.each([21211, 21408, 21606, 21610, 21612, 21614, 20003, 20404])(
    'gives up on Twilio code %i even with a status that would be retried',
    (code) => {
      expect(isRetryableTwilioFailure(503, code)).toBe(false);
      expect(isRetryableTwilioFailure(429, code)).toBe(false);
    },
  );

  it.each([20429, 30001, 20500, 20503])('retries Twilio code %i even with a status that would give up', (code) => {
    expect(isRetryableTwilioFailure(400, code)).toBe(true);
  });

  it('falls back to the HTTP status for other codes', () => {
    expect(isRetryableTwilioFailure(408, undefined)).toBe(true);
    expect(isRetryableTwilioFailure(400, 21617)).toBe(false);
    expect(isRetryableTwilioFailure(500, 21617)).toBe(true);
  });
});
