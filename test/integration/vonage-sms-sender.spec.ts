import { closeServer } from '../support/fake-http';
import { ManualClock } from '../support/fakes/clock';
import { deliveryFailure, smsMessage } from '../support/sms-messages';
import { createHash, createHmac } from 'node:crypto';
import { createServer, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { ReceiptRejected, ReceiptRequest } from '../../src/phone/sms/delivery-receipt';
import {
  isRetryableVonageStatus,
  VonageReceiptParser,
  VonageSignatureMethod,
  vonageSignature,
  VonageSmsSender,
  VonageSmsSenderOptions,
} from '../../src/phone/sms/vonage-sms-sender';

const API_KEY = 'a1b2c3d4';
const API_SECRET = 'Zx9Yw8Vu7Ts6Rq5P';
const SIGNATURE_SECRET = 'sig-secret-0123456789abcdef0123456789abcdef';
/** 4 min 40 s before the message's code expires (smsMessage: 12:05:00) */
const NOW = '2026-12-01T12:00:20Z';

type Answer = (res: ServerResponse) => void;

/**
 * A fake of Vonage's SMS API on 127.0.0.1, after its reference: POST /sms/json, form or JSON,
 * api_key with api_secret or a signature (`sig` over the other parameters, checked with the
 * account's signature secret and method), the required parameters checked; it answers 200 with
 * one `messages` entry, status "0" and a message-id, or the status a test sets (Vonage answers
 * refusals with HTTP 200 too).
 */
async function startFakeVonage(method: VonageSignatureMethod = 'sha256') {
  const state = {
    baseUrl: '',
    received: [] as Record<string, string>[],
    contentTypes: [] as (string | undefined)[],
    answer: undefined as Answer | undefined,
    server: createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const reply = (messages: object[]) =>
          res
            .writeHead(200, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ 'message-count': String(messages.length), messages }));
        const refuse = (status: string, text: string) => reply([{ status, 'error-text': text }]);
        if (req.method !== 'POST' || req.url !== '/sms/json') {
          return res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
        }
        const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
        state.received.push(form);
        state.contentTypes.push(req.headers['content-type']);
        for (const name of ['api_key', 'from', 'to', 'text']) {
          if (!form[name]) return refuse('2', `Missing ${name}`);
        }
        if (form.api_key !== API_KEY) return refuse('4', 'Bad Credentials');
        if (form.api_secret !== undefined && form.sig !== undefined) return refuse('32', 'Signature and secret');
        if (form.api_secret !== undefined && form.api_secret !== API_SECRET) return refuse('4', 'Bad Credentials');
        if (form.sig !== undefined && form.sig !== vonageSignature(form, SIGNATURE_SECRET, method)) {
          return refuse('14', 'Invalid Signature');
        }
        if (form.api_secret === undefined && form.sig === undefined) return refuse('2', 'Missing api_secret');
        if (form.to.startsWith('+')) return refuse('3', 'Invalid to');
        if (state.answer) return state.answer(res);
        reply([{ to: form.to, 'message-id': '0A0000000123ABCD1', status: '0', network: '22801' }]);
      });
    }),
  };
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.baseUrl = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

describe(VonageSmsSender.name, () => {
  let fake: Awaited<ReturnType<typeof startFakeVonage>>;
  const clock = new ManualClock(NOW);
  const sender = (options: Partial<VonageSmsSenderOptions> = {}) =>
    new VonageSmsSender(
      {
        baseUrl: fake.baseUrl,
        apiKey: API_KEY,
        apiSecret: API_SECRET,
        signatureMethod: 'sha256',
        from: 'MyApp',
        timeoutMs: 2000,
        ...options,
      },
      clock,
    );
  const answerStatus = (status: string, text = 'refused') => {
    fake.answer = (res) =>
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ 'message-count': '1', messages: [{ status, 'error-text': text }] }));
  };

  beforeEach(async () => {
    fake = await startFakeVonage();
  });
  afterEach(async () => {
    await closeServer(fake.server);
  });

  it('posts the documented form: number without +, the remaining life as ttl, the message id as client-ref', async () => {
    const accepted = await sender().send(smsMessage());
    expect(accepted).toEqual({ provider: 'vonage', providerMessageId: '0A0000000123ABCD1' });
    expect(fake.contentTypes).toEqual(['application/x-www-form-urlencoded']);
    expect(fake.received).toEqual([
      {
        api_key: API_KEY,
        api_secret: API_SECRET,
        from: 'MyApp',
        to: '41791234567',
        text: '482913 is your code to verify your phone number. Do not share it with anyone.',
        ttl: String(4 * 60_000 + 40_000),
        'client-ref': '312345678901234567',
      },
    ]);
  });

  it('asks for receipts at the callback URL and sends the sender id of the message', async () => {
    await sender({ callbackUrl: 'https://verify.example.com/v2/sms/receipts/vonage' }).send(
      smsMessage({ senderId: 'Acme CH' }),
    );
    expect(fake.received[0]).toMatchObject({
      callback: 'https://verify.example.com/v2/sms/receipts/vonage',
      from: 'Acme CH',
    });
  });

  it('sends a number as sender without its +', async () => {
    await sender({ from: '+41791110000' }).send(smsMessage());
    expect(fake.received[0].from).toBe('41791110000');
  });

  it('sends a text outside GSM-7 as unicode', async () => {
    await sender().send(smsMessage({ text: '482913 是您的验证码' }));
    expect(fake.received[0]).toMatchObject({ type: 'unicode', text: '482913 是您的验证码' });
    await sender().send(smsMessage({ text: '482913 ist Ihr Code – äöü' }));
    expect(fake.received[1].type).toBe('unicode'); // the en dash is not GSM-7
    await sender().send(smsMessage({ text: '482913 ist Ihr Code. Grüße' }));
    expect(fake.received[2].type).toBeUndefined();
  });

  it.each([
    ['2026-12-01T12:04:59Z', 20_000],
    ['2026-11-20T12:05:00Z', 604_800_000],
  ])('keeps ttl within what Vonage accepts (now %s → %i ms)', async (now, ttl) => {
    const early = new VonageSmsSender(
      {
        baseUrl: fake.baseUrl,
        apiKey: API_KEY,
        apiSecret: API_SECRET,
        signatureMethod: 'sha256',
        from: 'MyApp',
        timeoutMs: 2000,
      },
      new ManualClock(now),
    );
    await early.send(smsMessage());
    expect(fake.received[0].ttl).toBe(String(ttl));
  });

  it.each(['md5hash', 'md5', 'sha1', 'sha256', 'sha512'] as const)(
    'signs the request with the signature secret instead of the api secret (%s)',
    async (method) => {
      await closeServer(fake.server);
      fake = await startFakeVonage(method);
      await sender({ apiSecret: undefined, signatureSecret: SIGNATURE_SECRET, signatureMethod: method }).send(
        smsMessage(),
      );
      const [form] = fake.received;
      expect(form.api_secret).toBeUndefined();
      expect(form.timestamp).toBe(String(Date.parse(NOW) / 1000));
      expect(form.sig).toBe(vonageSignature(form, SIGNATURE_SECRET, method));
    },
  );

  it('computes the signature as Vonage documents it', () => {
    const params = { b: 'x&y=z', a: '1', sig: 'ignored' };
    expect(vonageSignature(params, 'secret', 'md5hash')).toBe(
      createHash('md5').update('&a=1&b=x_y_zsecret').digest('hex'),
    );
    expect(vonageSignature(params, 'secret', 'sha256')).toBe(
      createHmac('sha256', 'secret').update('&a=1&b=x_y_z').digest('hex').toUpperCase(),
    );
  });

  it('gives up when Vonage refuses the credentials, without the secret in the error', async () => {
    const error = await deliveryFailure(sender({ apiSecret: 'wrong-secret-0000' }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: false, code: 'vonage_4', message: 'vonage: status 4, Bad Credentials' });
  });

  it('gives up on a wrong signature', async () => {
    const error = await deliveryFailure(
      sender({ apiSecret: undefined, signatureSecret: 'another-secret-0123456789', signatureMethod: 'sha256' }).send(
        smsMessage(),
      ),
    );
    expect(error).toMatchObject({ retryable: false, code: 'vonage_14' });
  });

  it.each([
    ['1', true, 'vonage_1'],
    ['5', true, 'vonage_5'],
    ['10', true, 'vonage_10'],
    ['2', false, 'vonage_2'],
    ['3', false, 'vonage_3'],
    ['4', false, 'vonage_4'],
    ['6', false, 'vonage_6'],
    ['7', false, 'vonage_7'],
    ['8', false, 'vonage_8'],
    ['9', false, 'vonage_9'],
    ['15', false, 'vonage_15'],
    ['29', false, 'vonage_29'],
    ['33', false, 'vonage_33'],
    ['99', false, 'other'],
    ['x', false, 'other'],
  ])('maps status %s to retryable=%s, metrics code %s', async (status, retryable, code) => {
    answerStatus(status);
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error).toMatchObject({ retryable, code });
    expect(error.message).toBe(`vonage: status ${status}, refused`);
  });

  it('gives up when one part of a long text is refused', async () => {
    fake.answer = (res) =>
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({
          'message-count': '2',
          messages: [
            { status: '0', 'message-id': 'A1' },
            { status: '9', 'error-text': 'Quota Exceeded - rejected' },
          ],
        }),
      );
    expect(await deliveryFailure(sender().send(smsMessage()))).toMatchObject({ retryable: false, code: 'vonage_9' });
  });

  it('masks the code should Vonage echo it in an error text', async () => {
    answerStatus('12', 'Message too long: 482913 is your code');
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error.message).not.toContain('482913');
    expect(error.message).toBe('vonage: status 12, Message too long: *** is your code');
  });

  it.each([
    [429, true, 'http_429'],
    [500, true, 'http_5xx'],
    [503, true, 'http_5xx'],
    [401, false, 'http_4xx'],
    [302, false, 'http_3xx'],
  ])('maps HTTP %i by its status (retryable=%s, %s)', async (status, retryable, code) => {
    fake.answer = (res) => res.writeHead(status, { 'Content-Type': 'text/html', Location: '/elsewhere' }).end('nope');
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error).toMatchObject({ retryable, code, message: `vonage: HTTP ${status}` });
  });

  it('takes a 2xx whose body is not the documented one as accepted (a retry could send twice)', async () => {
    fake.answer = (res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    expect(await sender().send(smsMessage())).toEqual({ provider: 'vonage' });
  });

  it('gives a retryable failure when Vonage does not answer in time', async () => {
    fake.answer = () => undefined;
    const error = await deliveryFailure(sender({ timeoutMs: 200 }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: true, code: 'timeout', message: 'vonage: no answer within 200 ms' });
  });

  it('gives a retryable failure when nothing listens', async () => {
    const { baseUrl } = fake;
    await closeServer(fake.server);
    fake = await startFakeVonage(); // for afterEach
    const error = await deliveryFailure(sender({ baseUrl }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: true, code: 'network', message: 'vonage: request failed (ECONNREFUSED)' });
  });

  it('needs exactly one of the api secret and the signature secret', () => {
    expect(() => sender({ signatureSecret: SIGNATURE_SECRET })).toThrow('exactly one of apiSecret and signatureSecret');
    expect(() => sender({ apiSecret: undefined })).toThrow('exactly one of apiSecret and signatureSecret');
  });

  it('retries exactly the statuses Vonage says may pass later', () => {
    expect([...Array(40).keys()].filter(isRetryableVonageStatus)).toEqual([1, 5, 10]);
  });
});

describe(VonageReceiptParser.name, () => {
  const clock = new ManualClock('2026-12-01T12:01:00Z');
  const parser = (method: VonageSignatureMethod = 'sha256') =>
    new VonageReceiptParser({ apiKey: API_KEY, signatureSecret: SIGNATURE_SECRET, signatureMethod: method }, clock);
  const URL_BASE = 'https://verify.example.com/v2/sms/receipts/vonage';

  /** A receipt as Vonage sends it, signed with `secret`. */
  function receipt(
    fields: Record<string, string> = {},
    method: VonageSignatureMethod = 'sha256',
    secret = SIGNATURE_SECRET,
  ) {
    const params: Record<string, string> = {
      msisdn: '41791234567',
      to: 'MyApp',
      'network-code': '22801',
      messageId: '0A0000000123ABCD1',
      price: '0.03330000',
      status: 'delivered',
      scts: '2612011200',
      'err-code': '0',
      'api-key': API_KEY,
      'client-ref': '312345678901234567',
      'message-timestamp': '2026-12-01 12:00:30',
      timestamp: String(Date.parse('2026-12-01T12:00:30Z') / 1000),
      nonce: 'a3f1c2d4-5b6e-7f80-9a1b-2c3d4e5f6a7b',
      ...fields,
    };
    params.sig = vonageSignature(params, secret, method);
    return params;
  }
  const get = (params: Record<string, string>): ReceiptRequest => ({
    url: `${URL_BASE}?${new URLSearchParams(params).toString()}`,
    headers: {},
    rawBody: Buffer.alloc(0),
  });
  const postJson = (params: Record<string, string>): ReceiptRequest => ({
    url: URL_BASE,
    headers: { 'content-type': 'application/json' },
    rawBody: Buffer.from(JSON.stringify(params)),
  });
  const rejection = (request: ReceiptRequest, p = parser()) => {
    try {
      p.parse(request);
    } catch (error) {
      expect(error).toBeInstanceOf(ReceiptRejected);
      return error as ReceiptRejected;
    }
    throw new Error('expected a ReceiptRejected');
  };

  it('reads a signed GET receipt, with the price Vonage charged (micro-units of the account currency)', () => {
    expect(parser().parse(get(receipt()))).toEqual([
      {
        provider: 'vonage',
        providerMessageId: '0A0000000123ABCD1',
        status: 'delivered',
        at: new Date('2026-12-01T12:00:00Z'),
        price: { micros: 33300 },
      },
    ]);
  });

  it.each(['md5hash', 'md5', 'sha1', 'sha256', 'sha512'] as const)(
    'reads a signed JSON POST receipt (%s)',
    (method) => {
      const [read] = parser(method).parse(postJson(receipt({ status: 'failed', 'err-code': '6' }, method)));
      expect(read).toMatchObject({ status: 'failed', errorCode: '6' });
    },
  );

  it('accepts the signature in lower case too', () => {
    const params = receipt();
    expect(parser().parse(get({ ...params, sig: params.sig.toLowerCase() }))).toHaveLength(1);
  });

  it.each([
    ['accepted', 'sent'],
    ['buffered', 'sent'],
    ['unknown', 'sent'],
    ['delivered', 'delivered'],
    ['expired', 'undelivered'],
    ['failed', 'failed'],
    ['rejected', 'failed'],
  ])('maps status %s to %s', (status, mapped) => {
    expect(parser().parse(get(receipt({ status })))[0].status).toBe(mapped);
  });

  it('refuses every receipt without a signature secret configured (401)', () => {
    const unsigned = new VonageReceiptParser({ apiKey: API_KEY, signatureMethod: 'sha256' }, clock);
    expect(rejection(get(receipt()), unsigned)).toMatchObject({ status: 401 });
  });

  it('refuses a receipt signed with another secret, one without sig, and one whose fields were changed', () => {
    expect(rejection(get(receipt({}, 'sha256', 'another-secret'))).status).toBe(401);
    const { sig: _sig, ...unsigned } = receipt();
    expect(rejection(get(unsigned)).status).toBe(401);
    expect(rejection(get({ ...receipt(), status: 'failed' })).status).toBe(401);
    expect(rejection(get(receipt({}, 'md5hash')), parser('sha256')).status).toBe(401);
  });

  it('refuses a receipt whose timestamp is more than five minutes away (a replay)', () => {
    const old = receipt({ timestamp: String(Date.parse('2026-12-01T11:55:59Z') / 1000) });
    expect(rejection(get(old)).status).toBe(401);
  });

  it('refuses a receipt of another account', () => {
    expect(rejection(get(receipt({ 'api-key': 'ffffffff' }))).status).toBe(401);
  });

  it('refuses a signed receipt without message id or with an unknown status (400)', () => {
    expect(rejection(get(receipt({ messageId: '' }))).status).toBe(400);
    expect(rejection(get(receipt({ status: 'teleported' }))).status).toBe(400);
  });

  it('labels the documented DLR error codes by name and every other as other', () => {
    expect(['1', '6', '16', '50', '99', '17', '0', '4242', 'x'].map((c) => parser().errorLabel(c))).toEqual([
      'vonage_1',
      'vonage_6',
      'vonage_16',
      'vonage_50',
      'vonage_99',
      'other',
      'other',
      'other',
      'other',
    ]);
  });

  it('refuses a body that is no JSON object (400)', () => {
    const request = { url: URL_BASE, headers: { 'content-type': 'application/json' }, rawBody: Buffer.from('[1]') };
    expect(rejection(request).status).toBe(400);
  });
});
