import { createHuman, createOrg, randomMobile } from './support/factories';
import { FakeHttpServer } from './support/fake-http';
import { refusedStart } from './support/refused-start';
import { until } from './support/wait';
import { bearer, DATABASES, startApp, TestApp } from './support/test-app';

jest.setTimeout(30_000);

const HASH = 'FA+9qCX9VSu';
const DOMAIN = 'verify.example.com';

describe.each(DATABASES)('texts Android fills in, in one segment (%s)', (db) => {
  const webhook = new FakeHttpServer();
  let t: TestApp;

  beforeAll(async () => {
    await webhook.start();
    t = await startApp(db, {
      SMS_PROVIDER: 'webhook',
      SMS_WEBHOOK_URL: `${webhook.url}/sms`,
      SMS_POLL_INTERVAL: '50ms',
      SMS_ANDROID_APP_HASH: HASH,
      SMS_WEBOTP_DOMAIN: DOMAIN,
      SMS_TEMPLATES: JSON.stringify({ fr: 'Votre code : {{code}}' }),
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await webhook.close();
  }, 60_000);

  it('sends the app hash on its own line before the WebOTP line, which stays last', async () => {
    const orgId = await createOrg(t);
    const { userId } = await createHuman(t, { orgId, preferredLanguage: 'fr' });
    const phone = randomMobile();
    await t.http().post(`/v2/users/${userId}/phone`).set(bearer(t.adminToken)).send({ phone }).expect(200);
    const sent = await until('the text at the webhook', async () => webhook.requests.find((r) => r.json.to === phone));
    const code = sent.json.code as string;
    expect(sent.json.text).toBe(`Votre code : ${code}\n\n${HASH}\n@${DOMAIN} #${code}`);
  });

  it('refuses to start, in one fatal line naming the template, when one cannot fit one segment', async () => {
    const long = `{{code}} ${'x'.repeat(141)}`;
    const { error, lines } = await refusedStart(db, {
      SMS_ANDROID_APP_HASH: HASH,
      SMS_TEMPLATES: JSON.stringify({ fr: 'Votre code : {{code}}', it: long }),
    });
    expect(error.problems).toEqual([
      'SMS_TEMPLATES: the template for "it" with a 6-character code and the app hash takes 161 GSM-7 characters; one SMS segment holds 160',
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 60, settings: ['SMS_TEMPLATES'] });
    expect(lines[0].msg).toContain('the template for "it"');
  });
});
