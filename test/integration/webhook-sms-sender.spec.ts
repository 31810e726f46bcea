import { closeServer } from '../support/fake-http';
import { deliveryFailure, smsMessage } from '../support/sms-messages';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Clock } from '../../src/common/clock';
import { validateEnvironment } from '../../src/app.config';
import { SmsText } from '../../src/phone/sms/sms-text';
import { webhookSignature, WebhookSmsSender } from '../../src/phone/sms/webhook-sms-sender';

const NOW = new Date('2026-03-01T12:00:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;
const KEY = 'whsec-0123456789abcdef0123456789abcdef';

class FixedClock extends Clock {
  override now(): Date {
    return new Date(NOW);
  }
}

interface Received {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
}

/** A receiver on 127.0.0.1 whose answer each test chooses. */
async function startReceiver(
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(204).end(),
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawBody: Buffer.concat(chunks).toString('utf8'),
      });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/sms`, received, server };
}

/**
 * What a receiver does: recompute the HMAC over "<t>.<raw body>", compare in constant time, and
 * refuse a timestamp too far from its own clock (replays).
 */
function verifySignature(header: string | undefined, rawBody: string, key: string, nowSeconds: number): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(parts.v1 ?? '')) return false;
  if (Math.abs(nowSeconds - t) > 300) return false;
  const expected = createHmac('sha256', key).update(`${t}.${rawBody}`).digest();
  return timingSafeEqual(expected, Buffer.from(parts.v1, 'hex'));
}

describe(WebhookSmsSender.name, () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await closeServer(server);
    server = undefined;
  });

  it('POSTs the message as JSON with an idempotency key and a signature the receiver can verify', async () => {
    const receiver = await startReceiver();
    server = receiver.server;
    const config = validateEnvironment({ SMS_WEBOTP_DOMAIN: 'accounts.example.com' }).sms;
    const text = new SmsText(config).render({ code: '482913', language: 'de-CH' });
    const sender = new WebhookSmsSender({ url: receiver.url, timeoutMs: 2000, signingKey: KEY }, new FixedClock());

    await sender.send(smsMessage({ text }));

    expect(receiver.received).toHaveLength(1);
    const [request] = receiver.received;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/sms');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['idempotency-key']).toBe('312345678901234567');
    expect(JSON.parse(request.rawBody)).toEqual({
      id: '312345678901234567',
      to: '+41791234567',
      text: '482913 ist Ihr Code zur Verifizierung Ihrer Telefonnummer. Geben Sie ihn nicht weiter.\n\n@accounts.example.com #482913',
      code: '482913',
      userId: '298765432109876543',
      orgId: '298765432109876500',
    });
    const signature = request.headers['zitadel-signature'] as string;
    expect(signature).toMatch(new RegExp(`^t=${NOW_SECONDS},v1=[0-9a-f]{64}$`));
    expect(verifySignature(signature, request.rawBody, KEY, NOW_SECONDS)).toBe(true);
  });

  it('gives a signature that fails for a changed body, another key or a stale timestamp', async () => {
    const receiver = await startReceiver();
    server = receiver.server;
    const sender = new WebhookSmsSender({ url: receiver.url, timeoutMs: 2000, signingKey: KEY }, new FixedClock());
    await sender.send(smsMessage());
    const { headers, rawBody } = receiver.received[0];
    const signature = headers['zitadel-signature'] as string;

    expect(verifySignature(signature, rawBody.replace('482913', '482914'), KEY, NOW_SECONDS)).toBe(false);
    expect(verifySignature(signature, rawBody, `${KEY}x`, NOW_SECONDS)).toBe(false);
    expect(verifySignature(signature, rawBody, KEY, NOW_SECONDS + 301)).toBe(false);
    expect(
      verifySignature(signature.replace(`t=${NOW_SECONDS}`, `t=${NOW_SECONDS + 1}`), rawBody, KEY, NOW_SECONDS),
    ).toBe(false);
  });

  it('signs like the example in docs/sms-providers.md', () => {
    const body =
      '{"id":"312345678901234567","to":"+41791234567","text":"482913 is your code to verify your phone number. ' +
      'Do not share it with anyone.\\n\\n@accounts.example.com #482913","code":"482913",' +
      '"userId":"298765432109876543","orgId":"298765432109876500"}';
    expect(webhookSignature('0123456789abcdef0123456789abcdef', 1772366400, body)).toBe(
      '53d4f045157d97e31b793057624393f22e86306a8a980af80cc84558ce820f58',
    );
  });

  it('sends no signature header without a signing key', async () => {
    const receiver = await startReceiver();
    server = receiver.server;
    await new WebhookSmsSender({ url: receiver.url, timeoutMs: 2000 }, new FixedClock()).send(smsMessage());
    expect(receiver.received[0].headers['zitadel-signature']).toBeUndefined();
  });

  it.each([200, 201, 202, 204])('treats HTTP %i as delivered, the message id naming it in receipts', async (status) => {
    const receiver = await startReceiver((_req, res) => res.writeHead(status).end());
    server = receiver.server;
    await expect(
      new WebhookSmsSender({ url: receiver.url, timeoutMs: 2000 }, new FixedClock()).send(smsMessage()),
    ).resolves.toEqual({ provider: 'webhook', providerMessageId: smsMessage().id });
  });

  it.each([
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [409, false],
    [422, false],
    [408, true],
    [425, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
  ])('maps HTTP %i to a failure with retryable=%s', async (status, retryable) => {
    const receiver = await startReceiver((_req, res) => res.writeHead(status).end('{"error":"482913"}'));
    server = receiver.server;
    const error = await deliveryFailure(
      new WebhookSmsSender({ url: receiver.url, timeoutMs: 2000 }, new FixedClock()).send(smsMessage()),
    );
    expect(error.retryable).toBe(retryable);
    expect(error.message).toBe(`webhook: HTTP ${status}`);
  });

  it('does not follow a redirect (the code would go to another address) and gives up', async () => {
    const receiver = await startReceiver((req, res) =>
      req.url === '/sms' ? res.writeHead(307, { Location: '/elsewhere' }).end() : res.writeHead(204).end(),
    );
    server = receiver.server;
    const error = await deliveryFailure(
      new WebhookSmsSender({ url: receiver.url, timeoutMs: 2000 }, new FixedClock()).send(smsMessage()),
    );
    expect(error.retryable).toBe(false);
    expect(receiver.received.map((r) => r.url)).toEqual(['/sms']);
  });

  it('gives a retryable failure when the receiver does not answer in time', async () => {
    const receiver = await startReceiver(() => undefined); // never answers
    server = receiver.server;
    const started = Date.now();
    const error = await deliveryFailure(
      new WebhookSmsSender({ url: receiver.url, timeoutMs: 200 }, new FixedClock()).send(smsMessage()),
    );
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('webhook: no answer within 200 ms');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('gives a retryable failure when nothing listens', async () => {
    const receiver = await startReceiver();
    await closeServer(receiver.server);
    const error = await deliveryFailure(
      new WebhookSmsSender({ url: receiver.url, timeoutMs: 2000 }, new FixedClock()).send(smsMessage()),
    );
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^webhook: request failed \(ECONNREFUSED\)$/);
  });
});
