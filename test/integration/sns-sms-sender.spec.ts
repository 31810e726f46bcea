import { closeServer } from '../support/fake-http';
import { deliveryFailure, smsMessage } from '../support/sms-messages';
import { createServer, IncomingHttpHeaders, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { isRetryableSnsFailure, snsCode, SnsSmsSender, SnsSmsSenderOptions } from '../../src/phone/sms/sns-sms-sender';

const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const REGION = 'eu-central-1';

type Answer = (res: ServerResponse) => void;

const xmlError = (res: ServerResponse, status: number, code: string, message: string, type = 'Sender') =>
  res
    .writeHead(status, { 'Content-Type': 'text/xml' })
    .end(
      `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code>` +
        `<Message>${message}</Message></Error><RequestId>9b2f6c1e-3d4a-5b6c-7d8e-9f0a1b2c3d4e</RequestId></ErrorResponse>`,
    );

/**
 * A fake of SNS's Query API on 127.0.0.1, after the AWS reference: a form-encoded POST to / with
 * Action=Publish and Version=2010-03-31, signed with Signature Version 4 for the "sns" service of
 * the region (the header's shape and credential scope are checked, not the HMAC itself); it answers
 * a PublishResponse with a MessageId, or an ErrorResponse a test chooses.
 */
async function startFakeSns() {
  const state = {
    endpoint: '',
    received: [] as { headers: IncomingHttpHeaders; form: Record<string, string> }[],
    answer: undefined as Answer | undefined,
    server: createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const auth = req.headers.authorization ?? '';
        const scope = new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${KEY_ID}/\\d{8}/${REGION}/sns/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`,
        );
        if (!scope.test(auth))
          return xmlError(res, 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
        if (
          req.method !== 'POST' ||
          !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')
        ) {
          return xmlError(res, 400, 'InvalidAction', 'not a Query request');
        }
        const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
        state.received.push({ headers: req.headers, form });
        if (form.Action !== 'Publish' || form.Version !== '2010-03-31')
          return xmlError(res, 400, 'InvalidAction', 'unknown action');
        if (!form.PhoneNumber && !form.TopicArn && !form.TargetArn) {
          return xmlError(res, 400, 'InvalidParameter', 'Invalid parameter: PhoneNumber');
        }
        if (!form.Message) return xmlError(res, 400, 'ValidationError', 'Message is required');
        if (state.answer) return state.answer(res);
        res
          .writeHead(200, { 'Content-Type': 'text/xml' })
          .end(
            '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>' +
              '<MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult>' +
              '<ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata></PublishResponse>',
          );
      });
    }),
  };
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.endpoint = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

/** The message attributes of a Publish form: { name: value }. */
function attributesOf(form: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 1; form[`MessageAttributes.entry.${i}.Name`]; i++) {
    expect(form[`MessageAttributes.entry.${i}.Value.DataType`]).toBe('String');
    out[form[`MessageAttributes.entry.${i}.Name`]] = form[`MessageAttributes.entry.${i}.Value.StringValue`];
  }
  return out;
}

describe(SnsSmsSender.name, () => {
  let fake: Awaited<ReturnType<typeof startFakeSns>>;
  const sender = (options: Partial<SnsSmsSenderOptions> = {}) =>
    new SnsSmsSender({
      region: REGION,
      endpoint: fake.endpoint,
      accessKeyId: KEY_ID,
      secretAccessKey: SECRET,
      timeoutMs: 2000,
      ...options,
    });

  beforeEach(async () => {
    fake = await startFakeSns();
  });
  afterEach(async () => {
    await closeServer(fake.server);
  });

  it('publishes a Transactional SMS to the number and answers with its MessageId', async () => {
    expect(await sender().send(smsMessage())).toEqual({
      provider: 'sns',
      providerMessageId: '567910cd-659e-55d4-8ccb-5aaf14679dc0',
    });
    const [{ form }] = fake.received;
    expect(form).toMatchObject({
      Action: 'Publish',
      Version: '2010-03-31',
      PhoneNumber: '+41791234567',
      Message: '482913 is your code to verify your phone number. Do not share it with anyone.',
    });
    expect(attributesOf(form)).toEqual({ 'AWS.SNS.SMS.SMSType': 'Transactional' });
  });

  it('sends the sender id (the message’s over the configured one) and a number as origination number', async () => {
    await sender({ senderId: 'MyApp' }).send(smsMessage());
    await sender({ senderId: 'MyApp' }).send(smsMessage({ senderId: 'AcmeCH' }));
    await sender().send(smsMessage({ senderId: '+18005550100' }));
    expect(fake.received.map((r) => attributesOf(r.form))).toEqual([
      { 'AWS.SNS.SMS.SMSType': 'Transactional', 'AWS.SNS.SMS.SenderID': 'MyApp' },
      { 'AWS.SNS.SMS.SMSType': 'Transactional', 'AWS.SNS.SMS.SenderID': 'AcmeCH' },
      { 'AWS.SNS.SMS.SMSType': 'Transactional', 'AWS.MM.SMS.OriginationNumber': '+18005550100' },
    ]);
  });

  it('gives up when SNS refuses the credentials', async () => {
    const error = await deliveryFailure(sender({ accessKeyId: 'AKIAWRONGWRONGWRONG0' }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: false, code: 'sns_invalid_client_token_id' });
    expect(error.message).toContain('sns: HTTP 403, code InvalidClientTokenId');
    expect(fake.received).toEqual([]);
  });

  it.each([
    [400, 'Throttling', true, 'sns_throttling'],
    [400, 'Throttled', true, 'sns_throttled'],
    [400, 'KMSThrottling', true, 'sns_kms_throttling'],
    [500, 'InternalError', true, 'sns_internal_error'],
    [503, 'ServiceUnavailable', true, 'sns_service_unavailable'],
    [400, 'InvalidParameter', false, 'sns_invalid_parameter'],
    [400, 'InvalidParameterValue', false, 'sns_invalid_parameter_value'],
    [403, 'AuthorizationError', false, 'sns_authorization_error'],
    [400, 'OptedOut', false, 'sns_opted_out'],
    [403, 'SignatureDoesNotMatch', false, 'sns_signature_does_not_match'],
    [400, 'SomethingNew', false, 'http_4xx'],
    [500, 'SomethingNew', true, 'http_5xx'],
  ])('maps HTTP %i with code %s to retryable=%s, metrics code %s', async (status, code, retryable, metricsCode) => {
    fake.answer = (res) => xmlError(res, status, code, 'refused', status >= 500 ? 'Receiver' : 'Sender');
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error).toMatchObject({ retryable, code: metricsCode });
    expect(error.message).toContain(`sns: HTTP ${status}, code ${code}`);
  });

  it('masks the code should SNS echo it', async () => {
    fake.answer = (res) => xmlError(res, 400, 'InvalidParameterValue', 'Message "482913 is your code" too long');
    const error = await deliveryFailure(sender().send(smsMessage()));
    expect(error.message).not.toContain('482913');
  });

  it('gives a retryable failure when SNS does not answer in time', async () => {
    fake.answer = () => undefined;
    const error = await deliveryFailure(sender({ timeoutMs: 300 }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: true, code: 'timeout', message: 'sns: no answer within 300 ms' });
  });

  it('gives a retryable failure when nothing listens', async () => {
    const { endpoint } = fake;
    await closeServer(fake.server);
    fake = await startFakeSns();
    const error = await deliveryFailure(sender({ endpoint }).send(smsMessage()));
    expect(error).toMatchObject({ retryable: true, code: 'network' });
  });

  it('tries once: the outbox does the retries', async () => {
    fake.answer = (res) => xmlError(res, 500, 'InternalError', 'oops', 'Receiver');
    await deliveryFailure(sender().send(smsMessage()));
    expect(fake.received).toHaveLength(1);
  });

  it('needs both or neither of the key id and the secret', () => {
    expect(() => sender({ secretAccessKey: undefined })).toThrow('both or neither');
  });

  it('reads the code from the SDK’s exception names', () => {
    expect(['InternalErrorException', 'Throttling', 'Exception', 'Bad Name', undefined].map(snsCode)).toEqual([
      'InternalError',
      'Throttling',
      'Exception',
      undefined,
      undefined,
    ]);
  });

  it('lets a known code decide before the HTTP status', () => {
    expect(isRetryableSnsFailure(500, 'InvalidParameter')).toBe(false);
    expect(isRetryableSnsFailure(400, 'Throttling')).toBe(true);
    expect(isRetryableSnsFailure(undefined, undefined)).toBe(true);
  });
});
