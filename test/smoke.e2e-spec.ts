import { bearer, DATABASES, startApp, TestApp } from './support/test-app';
import { createHuman } from './support/factories';
import { phoneApi } from './support/phone-api';

describe.each(DATABASES)('smoke (%s)', (db) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(db);
  }, 60_000);
  afterAll(() => t?.close(), 60_000);

  it('sets a phone with returnCode and verifies it', async () => {
    const { userId, phoneCode } = await createHuman(t, { phone: '+41 79 123 45 67' });
    expect(phoneCode).toMatch(/^\d{6}$/);
    await phoneApi(t).verify(userId, phoneCode).expect(200);
    const user = await t.http().get(`/v2/users/${userId}`).set(bearer(t.adminToken)).expect(200);
    expect(user.body.user.human.phone).toEqual({ phone: '+41791234567', isVerified: true });
  });
});
