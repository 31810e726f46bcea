import { startApp, TestApp } from './support/test-app';

/** Issue 29, point 6: a variable that looks like a setting and is none is named at start. */
describe('A variable that looks like a setting', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp('sqlite', { SMS_PROVDER: 'webhook-hunter2', TWILIO_SID: 'AC-hunter2' });
  }, 60_000);

  afterAll(() => t?.close());

  const warnings = () =>
    t.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.variable !== undefined);

  it('is named in one warning each, with the setting it is closest to', () => {
    expect(warnings()).toEqual([
      expect.objectContaining({
        level: 40,
        variable: 'SMS_PROVDER',
        closest: 'SMS_PROVIDER',
        msg: 'SMS_PROVDER is not a setting and is ignored: did you mean SMS_PROVIDER?',
      }),
      expect.objectContaining({ level: 40, variable: 'TWILIO_SID', closest: 'TWILIO_ACCOUNT_SID' }),
    ]);
  });

  it('never has its value written to the log', () => {
    expect(t.logs.filter((line) => line.includes('hunter2'))).toEqual([]);
  });

  it('does not stop the start', async () => {
    await t.http().get('/livez').expect(200);
  });
});
