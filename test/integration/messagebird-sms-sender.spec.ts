import { closeServer } from '../support/fake-http';
import { ManualClock } from '../support/fakes/clock';
import { deliveryFailure, smsMessage } from '../support/sms-messages';
import { SignJWT } from 'jose';
import { createHash } from 'node:crypto';
import { createServer, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { ReceiptRejected, ReceiptRequest } from '../../src/phone/sms/delivery-receipt';
import {
  isRetryableMessageBirdFailure,
  MessageBirdReceiptParser,
  MessageBirdSmsSender,
  MessageBirdSmsSenderOptions,
} from '../../src/phone/sms/messagebird-sms-sender';

const ACCESS_KEY = 'test_gshuPaZoeEG6ovbc8M79w0QyM';
/** 4 min 40 s before the message's code expires (smsMessage: 12:05:00) */
const NOW = '2026-12-01T12:00:20Z';

type Answer = (res: ServerResponse) => void;

/**
 * A fake of MessageBird's REST API on 127.0.0.1, after its reference: POST /messages with
 * `Authorization: AccessKey …` and a JSON body with originator, recipients and body; it answers
 * 201 with the created message (an id), or `{errors: [{code, description, parameter}]}` with the
 * documented statuses (401 code 2, 422 codes 9 and 10), or what a test sets.
 */
async function startFakeMessageBird() {
  const state = {
    baseUrl: '',
    received: [] as { headers: Record<string, unknown>; json: Record<string, unknown> }[],
    answer: undefined as Answer | undefined,
    server: createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const fail = (status: number, code: number, description: string, parameter?: string) =>
          res
            .writeHead(status, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ errors: [{ code, description, parameter: parameter ?? null }] }));
        if (req.headers.authorization !== `AccessKey ${ACCESS_KEY}`) {
          return fail(401, 2, 'Request not allowed (incorrect access_key)');
        }
        if (req.method !== 'POST' || req.url !== '/messages') return fail(404, 20, 'message not found');
        if (req.headers['content-type'] !== 'application/json') return fail(422, 21, 'bad request');
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          return fail(400, 21, 'bad request');
        }
        state.received.push({ headers: req.headers, json });
        for (const name of ['originator', 'recipients', 'body']) {
          if (!json[name]) return fail(422, 9, `no (correct) ${name} given`, name);
        }
        if (state.answer) return state.answer(res);
        res.writeHead(201, { 'Content-Type': 'application/json' }).end(
          JSON.stringify({
            id: 'e8077d803532c0b5937c639b60216938',
            href: 'https://rest.messagebird.com/messages/e8077d803532c0b5937c639b60216938',
            direction: 'mt',
            type: 'sms',
            originator: json.originator,
            body: json.body,
            reference: json.reference,
            validity: json.validity,
            recipients: { totalCount: 1, totalSentCount: 1, items: [] },
          }),
        );
      });
    }),
  };
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.baseUrl = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

describe(MessageBirdSmsSender.name, () => {
  let fake: Awaited<ReturnType<typeof startFakeMessageBird>>;
  const sender = (options: Partial<MessageBirdSmsSenderOptions> = {}, now = NOW) =>
    new MessageBirdSmsSender(
      { baseUrl: fake.baseUrl, accessKey: ACCESS_KEY, originator: 'MyApp', timeoutMs: 2000, ...options },
      new ManualClock(now),
    );
  const answer = (status: number, body: object | string) => {
    fake.answer = (res) =>
      res
        .writeHead(status, { 'Content-Type': 'application/json' })
        .end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  beforeEach(async () => {
    fake = await startFakeMessageBird();
  });
  afterEach(async () => {
    await closeServer(fake.server);
  });

  it('creates a message: the number without +, validity the remaining life in seconds, the id as reference', async () => {
    expect(await sender().send(smsMessage())).toEqual({
      provider: 'messagebird',
      providerMessageId: 'e8077d803532c0b5937c639b60216938',
    });
    expect(fake.received.map((r) => r.json)).toEqual([
      {
        originator: 'MyApp',
        recipients: ['41791234567'],
        body: '482913 is your code to verify your phone number. Do not share it with anyone.',
        validity: 280,
        reference: '312345678901234567',
      },
    ]);
  });

  it('asks for status reports at the report URL and uses the sender id of the message', async () => {
    await sender({ reportUrl: 'https://verify.example.com/v2/sms/receipts/messagebird' }).send(
      smsMessage({ senderId: 'Acme' }),
    );
    expect(fake.received[0].json).toMatchObject({
      originator: 'Acme',
      reportUrl: 'https://verify.example.com/v2/sms/receipts/messagebird',
    });
  });

  it('sends a number as originator without its +', async () => {
    await sender({ originator: '+41791110000' }).send(smsMessage());
    expect(fake.received[0].json.originator).toBe('41791110000');
  });

  it('sends a text outside GSM-7 as unicode and never a validity below one second', async () => {
    await sender({}, '2026-12-01T12:04:59.500Z').send(smsMessage({ text: '482913 — код' }));
    expect(fake.received[0].json).toMatchObject({ datacoding: 'unicode', validity: 1 });
  });

  it('gives up when MessageBird refuses the access key', async () => {
    const error = await deliveryFailure(sender({ accessKey: 'live_wrong' }).send(smsMessage()));
    expect(error).toMatchObject({
      retryable: false,
      code: 'messagebird_2',
      message: 'messagebird: HTTP 401, code 2, Request not allowed (incorrect access_key)',
    });
  });

  it.each([
    [422, 9, false, 'messagebird_9'],
    [422, 10, false, 'messagebird_10'],
    [404, 20, false, 'messagebird_20'],
    [400, 21, false, 'messagebird_21'],
    [402, 25, false, 'messagebird_25'],
    [404, 98, false, 'messagebird_98'],
    [500, 99, true, 'messagebird_99'],
    [503, 9, false, 'messagebird_9'],
    [422, 1234, false, 'http_4xx'],
    [503, 1234, true, 'http_5xx'],
    [429, 1234, true, 'http_429'],
  ])('maps HTTP %i with code %i to retryable=%s, metrics code %s', async (status, code, retryable, metricsCode) => {
    answer(status, { errors: [{ code, description: 'refused', parameter: 'recipients' }] });
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error).toMatchObject({ retryable, code: metricsCode });
    expect(error.message).toContain(`code ${code}, refused, recipients`);
  });

  it.each([
    [500, true, 'http_5xx'],
    [429, true, 'http_429'],
    [403, false, 'http_4xx'],
    [301, false, 'http_3xx'],
  ])('maps HTTP %i without an error document by its status', async (status, retryable, code) => {
    answer(status, '<html>nope</html>');
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error).toMatchObject({ retryable, code, message: `messagebird: HTTP ${status}` });
  });

  it('masks the code should MessageBird echo it', async () => {
    answer(422, { errors: [{ code: 10, description: 'body "482913 is your code" invalid', parameter: 'body' }] });
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error.message).not.toContain('482913');
    expect(error.message).toBe('messagebird: HTTP 422, code 10, body "*** is your code" invalid, body');
  });

  it('takes a 2xx without a readable id as accepted', async () => {
    answer(201, 'not json');
    expect(await sender().send(smsMessage())).toEqual({ provider: 'messagebird', providerMessageId: undefined });
  });

  it('gives a retryable failure when MessageBird does not answer in time', async () => {
    fake.answer = () => undefined;
    const error = await deliveryFailure(sender({ timeoutMs: 200 }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: true, code: 'timeout', message: 'messagebird: no answer within 200 ms' });
  });

  it('gives a retryable failure when nothing listens', async () => {
    const { baseUrl } = fake;
    await closeServer(fake.server);
    fake = await startFakeMessageBird();
    const error = await deliveryFailure(sender({ baseUrl }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: true, code: 'network' });
  });

  it('lets a known code decide before the HTTP status', () => {
    expect(isRetryableMessageBirdFailure(503, 25)).toBe(false);
    expect(isRetryableMessageBirdFailure(400, 99)).toBe(true);
    expect(isRetryableMessageBirdFailure(408, undefined)).toBe(true);
  });
});

describe(MessageBirdReceiptParser.name, () => {
  const SIGNING_KEY = 'PlLrKaqvZNRR5zAjm42ZT6q1SQxgbbGd';
  const clock = new ManualClock('2026-12-01T12:01:00Z');
  const nowSeconds = Date.parse('2026-12-01T12:01:00Z') / 1000;
  const REPORT = 'https://verify.example.com/v2/sms/receipts/messagebird';
  const parser = new MessageBirdReceiptParser({ signingKey: SIGNING_KEY }, clock);
  const query = new URLSearchParams({
    id: 'e8077d803532c0b5937c639b60216938',
    reference: '312345678901234567',
    recipient: '41791234567',
    status: 'delivered',
    statusDatetime: '2026-12-01T12:00:31+00:00',
    statusErrorCode: '',
  });
  const hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

  /** The header MessageBird sends: a JWT signed with the key, over the URL (and the body, when there is one). */
  async function signature(
    url: string,
    body: Buffer | undefined,
    claims: Record<string, unknown> = {},
    key = SIGNING_KEY,
  ) {
    const payload: Record<string, unknown> = { url_hash: hex(url), ...claims };
    if (body && body.length > 0) payload.payload_hash = hex(body);
    let jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: (claims.alg as string) ?? 'HS256', typ: 'JWT' })
      .setIssuer((claims.iss as string) ?? 'MessageBird')
      .setIssuedAt(nowSeconds - 1)
      .setNotBefore(nowSeconds - 1)
      .setExpirationTime((claims.exp as number) ?? nowSeconds + 60);
    if (claims.jti !== null) jwt = jwt.setJti('c5d2b7a9-0f3e-4b8a-9d6c-1e2f3a4b5c6d');
    return jwt.sign(new TextEncoder().encode(key));
  }
  async function getReport(
    params = query,
    claims: Record<string, unknown> = {},
    key = SIGNING_KEY,
  ): Promise<ReceiptRequest> {
    const url = `${REPORT}?${params.toString()}`;
    return {
      url,
      headers: { 'messagebird-signature-jwt': await signature(url, undefined, claims, key) },
      rawBody: Buffer.alloc(0),
    };
  }
  const rejection = (request: ReceiptRequest, p = parser) => {
    try {
      p.parse(request);
    } catch (error) {
      expect(error).toBeInstanceOf(ReceiptRejected);
      return error as ReceiptRejected;
    }
    throw new Error('expected a ReceiptRejected');
  };

  it('reads a signed GET status report', async () => {
    expect(parser.parse(await getReport())).toEqual([
      {
        provider: 'messagebird',
        providerMessageId: 'e8077d803532c0b5937c639b60216938',
        status: 'delivered',
        at: new Date('2026-12-01T12:00:31Z'),
      },
    ]);
  });

  it.each(['HS384', 'HS512'])('accepts a token signed with %s', async (alg) => {
    expect(parser.parse(await getReport(query, { alg }))).toHaveLength(1);
  });

  it('reads a signed POST status report, its body covered by payload_hash', async () => {
    const body = Buffer.from(
      JSON.stringify({
        id: 'e8077d80',
        status: 'delivery_failed',
        statusErrorCode: 104,
        statusDatetime: '2026-12-01T12:00:40Z',
      }),
    );
    const request = {
      url: REPORT,
      headers: { 'Content-Type': 'application/json', 'MessageBird-Signature-JWT': await signature(REPORT, body) },
      rawBody: body,
    };
    expect(parser.parse(request)).toEqual([
      {
        provider: 'messagebird',
        providerMessageId: 'e8077d80',
        status: 'failed',
        errorCode: '104',
        at: new Date('2026-12-01T12:00:40Z'),
      },
    ]);
    expect(rejection({ ...request, rawBody: Buffer.from(body.toString().replace('104', '105')) }).status).toBe(401);
  });

  it.each([
    ['scheduled', 'queued'],
    ['sent', 'sent'],
    ['buffered', 'sent'],
    ['delivered', 'delivered'],
    ['expired', 'undelivered'],
    ['delivery_failed', 'failed'],
  ])('maps status %s to %s', async (status, mapped) => {
    const params = new URLSearchParams(query);
    params.set('status', status);
    expect(parser.parse(await getReport(params))[0].status).toBe(mapped);
  });

  it('refuses every report without a signing key configured (401)', async () => {
    const unsigned = new MessageBirdReceiptParser({}, clock);
    expect(rejection(await getReport(), unsigned).status).toBe(401);
  });

  it('refuses a report without the header, with another key, another URL, or changed fields', async () => {
    const good = await getReport();
    expect(rejection({ ...good, headers: {} }).status).toBe(401);
    expect(rejection(await getReport(query, {}, 'another-key-0000000000000000000')).status).toBe(401);
    expect(rejection({ ...good, url: good.url.replace('delivered', 'expired') }).status).toBe(401);
    expect(rejection({ ...good, url: good.url.replace('https://verify.', 'https://evil.') }).status).toBe(401);
  });

  it('refuses an expired token, one not from MessageBird, one without jti, and an unsigned (alg none) one', async () => {
    expect(rejection(await getReport(query, { exp: nowSeconds - 10 })).status).toBe(401);
    expect(rejection(await getReport(query, { iss: 'Mallory' })).status).toBe(401);
    expect(rejection(await getReport(query, { jti: null })).status).toBe(401);
    const good = await getReport();
    const [, body] = (good.headers['messagebird-signature-jwt'] as string).split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`;
    expect(rejection({ ...good, headers: { 'messagebird-signature-jwt': none } }).status).toBe(401);
  });

  it('labels error codes of one byte by number and every other as other', () => {
    expect(['34', '0', '255', '256', '1000', '-1', 'x'].map((c) => parser.errorLabel(c))).toEqual([
      'messagebird_34',
      'messagebird_0',
      'messagebird_255',
      'other',
      'other',
      'other',
      'other',
    ]);
  });

  it('refuses a signed report without id or with an unknown status (400)', async () => {
    const params = new URLSearchParams(query);
    params.set('status', 'teleported');
    expect(rejection(await getReport(params)).status).toBe(400);
    params.delete('id');
    params.set('status', 'sent');
    expect(rejection(await getReport(params)).status).toBe(400);
  });
});
