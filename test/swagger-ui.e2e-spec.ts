import { AddressInfo } from 'node:net';
import { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from './support/browser';
import { createHuman } from './support/factories';
import { phoneApi, wrongCodeFor } from './support/phone-api';
import { startApp, TestApp } from './support/test-app';
import { ERROR_DETAIL, ERROR_INFO } from './support/wire';

/**
 * Swagger UI at /docs in a real headless Chromium (Debian's, see .ci/run), against the real app:
 * what a person exploring the API does — read the operations, call one without a token, authorize
 * with the admin token, then "Try it out" / "Execute" and read the real status and body.
 */
const PHONE_OPERATIONS = [
  { operationId: 'UserService_SetPhone', method: 'POST', path: '/v2/users/{userId}/phone' },
  { operationId: 'UserService_RemovePhone', method: 'DELETE', path: '/v2/users/{userId}/phone' },
  { operationId: 'UserService_ResendPhoneCode', method: 'POST', path: '/v2/users/{userId}/phone/resend' },
  { operationId: 'UserService_VerifyPhone', method: 'POST', path: '/v2/users/{userId}/phone/verify' },
];

jest.setTimeout(30_000);

describe('Swagger UI in a browser (sqlite)', () => {
  let t: TestApp;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  let user: { userId: string; phoneCode?: string };
  /** what went wrong while the UI loaded and ran: console errors, page errors, failed or foreign requests */
  const problems: string[] = [];
  /** path → status of every response under /docs */
  const assets = new Map<string, number>();

  beforeAll(async () => {
    t = await startApp('sqlite');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${port}`;
    user = await createHuman(t, { phone: '+41791234567', phoneMode: 'returnCode' });
    expect(user.phoneCode).toEqual(expect.any(String));

    // a cold Chromium start on a busy 2-core machine has taken more than 15 s
    // no skip: CI installs Debian's chromium before the tests run (see .ci/run)
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    // generous for a busy 2-core machine; a healthy run needs a fraction of it
    page.setDefaultTimeout(10_000);
    page.on('console', (msg) => {
      // Chromium logs every 4xx as a console error: expected for the API calls made with "Execute"
      const apiCall =
        msg.location().url.startsWith(`${baseUrl}/v2/`) && msg.text().startsWith('Failed to load resource');
      if (msg.type() === 'error' && !apiCall) problems.push(`console error: ${msg.text()} (${msg.location().url})`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
    page.on('request', (req) => {
      if (!req.url().startsWith(`${baseUrl}/`) && !req.url().startsWith('data:'))
        problems.push(`request outside the app: ${req.url()}`);
    });
    page.on('response', (res) => {
      // the UI's own assets; the API calls made with "Execute" answer 4xx on purpose
      if (!res.url().startsWith(`${baseUrl}/docs`)) return;
      assets.set(res.url().slice(baseUrl.length), res.status());
      if (res.status() >= 400) problems.push(`asset ${res.url()} answered ${res.status()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  }, 60_000);

  const operation = (tag: string, operationId: string) => page.locator(`#operations-${tag}-${operationId}`);

  /** Opens an operation, "Try it out", fills the path parameter (and body), "Execute"; returns the network response. */
  async function execute(op: Locator, userId: string, body?: string) {
    if (!(await op.locator('.opblock-body').isVisible())) await op.locator('.opblock-summary-control').click();
    const tryOut = op.getByRole('button', { name: 'Try it out' });
    if (await tryOut.isVisible()) await tryOut.click();
    // "Clear" the previous call's response, so that the one read below is certainly this call's
    const clear = op.locator('button.btn-clear');
    if (await clear.isVisible()) await clear.click();
    await op.locator('.live-responses-table').waitFor({ state: 'detached' });
    await op.locator('tr[data-param-name="userId"] input').fill(userId);
    if (body !== undefined) await op.locator('textarea.body-param__text').fill(body);
    const [response] = await Promise.all([
      page.waitForResponse((res) => res.url().startsWith(`${baseUrl}/v2/`)),
      op.locator('button.execute').click(),
    ]);
    const live = op.locator('.live-responses-table');
    await live.locator('.response-col_status').first().waitFor();
    return {
      response,
      shownStatus: (await live.locator('tbody .response-col_status').first().innerText()).trim(),
      shownBody: JSON.parse(await live.locator('.response-col_description pre.microlight').first().innerText()),
      curl: await op.locator('.curl-command').innerText(),
    };
  }

  it('loads /docs and lists the phone operations, with no console errors or failed assets', async () => {
    const res = await page.goto(`${baseUrl}/docs`, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    await expect(page.locator('.swagger-ui .info .title').innerText()).resolves.toContain('Phone verification');
    await expect(page.locator('.swagger-ui .info .description').innerText()).resolves.toContain(
      'Authorization: Bearer <token>',
    );
    for (const { operationId, method, path } of PHONE_OPERATIONS) {
      const op = operation('Phone', operationId);
      await op.waitFor();
      await expect(op.locator('.opblock-summary-method').innerText()).resolves.toBe(method);
      await expect(op.locator('.opblock-summary-path').getAttribute('data-path')).resolves.toBe(path);
      // the lock icon: the operation asks for the bearer token
      await expect(op.locator('.authorization__btn').count()).resolves.toBe(1);
    }
    for (const asset of [
      'swagger-ui.css',
      'swagger-ui-bundle.js',
      'swagger-ui-standalone-preset.js',
      'swagger-ui-init.js',
    ])
      expect(assets.get(`/docs/${asset}`)).toBe(200);
    await expect(
      operation('Users', 'UserService_GetUserByID').locator('.opblock-summary-path').getAttribute('data-path'),
    ).resolves.toBe('/v2/users/{userId}');
    expect(problems).toEqual([]);
  });

  it('"Try it out" without authorizing: GetUserByID shows 401 with the error body', async () => {
    const { response, shownStatus, shownBody, curl } = await execute(
      operation('Users', 'UserService_GetUserByID'),
      user.userId,
    );
    expect(response.request().headers()['authorization']).toBeUndefined();
    expect(curl).not.toContain('Authorization');
    expect(response.status()).toBe(401);
    expect(shownStatus).toBe('401');
    expect(shownBody).toEqual({
      code: 16,
      message: 'Bearer token missing or malformed (AUTH-n0t0k)',
      details: [{ '@type': ERROR_DETAIL, id: 'AUTH-n0t0k', message: 'Bearer token missing or malformed' }],
    });
    expect(shownBody).toEqual(await response.json());
  });

  it('"Authorize" with the admin token, then GetUserByID shows 200 and the user', async () => {
    await page.locator('.auth-wrapper button.authorize').click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.waitFor();
    await dialog.locator('input[aria-label="auth-bearer-value"]').fill(t.adminToken);
    await dialog.locator('button.modal-btn.auth.authorize').click();
    await expect(dialog.locator('button.modal-btn.auth').first().innerText()).resolves.toBe('Logout');
    await dialog.locator('button.modal-btn.btn-done').click();
    await dialog.waitFor({ state: 'detached' });
    await expect(page.locator('.auth-wrapper button.authorize').getAttribute('class')).resolves.toContain('locked');

    const { response, shownStatus, shownBody, curl } = await execute(
      operation('Users', 'UserService_GetUserByID'),
      user.userId,
    );
    expect(response.request().headers()['authorization']).toBe(`Bearer ${t.adminToken}`);
    expect(curl).toContain(`Authorization: Bearer ${t.adminToken}`);
    expect(response.status()).toBe(200);
    expect(shownStatus).toBe('200');
    expect(shownBody.user).toMatchObject({
      userId: user.userId,
      state: 'USER_STATE_ACTIVE',
      human: { profile: { givenName: 'Minnie', familyName: 'Mouse' }, phone: { phone: '+41791234567' } },
    });
    expect(shownBody.user.human.phone.isVerified).toBeUndefined();
    expect(shownBody).toEqual(await response.json());
  });

  // issue 29, point 6: the body "Try it out" fills in is a valid request (it once set every member of the oneof)
  it('SetPhone sends the example body it fills in, and each example it offers answers 200', async () => {
    const setPhone = operation('Phone', 'UserService_SetPhone');
    const filledIn = await execute(setPhone, (await createHuman(t)).userId);
    expect(JSON.parse(filledIn.response.request().postData() ?? '')).toEqual({ phone: '+41791234567', sendCode: {} });
    expect([filledIn.response.status(), filledIn.shownStatus]).toEqual([200, '200']);
    expect(filledIn.shownBody).toEqual({
      details: { sequence: expect.any(String), changeDate: expect.any(String), resourceOwner: expect.any(String) },
    });

    const examples = setPhone.locator('.opblock-section-request-body select.examples-select-element');
    await expect(examples.locator('option').allInnerTexts()).resolves.toEqual(['sendCode', 'returnCode', 'isVerified']);
    await examples.selectOption('returnCode');
    const returned = await execute(setPhone, (await createHuman(t)).userId);
    expect(JSON.parse(returned.response.request().postData() ?? '')).toEqual({ phone: '+41791234567', returnCode: {} });
    expect([returned.response.status(), returned.shownBody.verificationCode]).toEqual([200, expect.any(String)]);
    await examples.selectOption('isVerified');
    const verified = await execute(setPhone, (await createHuman(t)).userId);
    expect(JSON.parse(verified.response.request().postData() ?? '')).toEqual({
      phone: '+41791234567',
      isVerified: true,
    });
    expect(verified.response.status()).toBe(200);
    expect(problems).toEqual([]);
  });

  it('VerifyPhone with a wrong code shows 400 with the documented error body, the right code 200', async () => {
    const verify = operation('Phone', 'UserService_VerifyPhone');
    const wrong = JSON.stringify({ verificationCode: wrongCodeFor(user.phoneCode!) });
    const failed = await execute(verify, user.userId, wrong);
    expect(failed.response.status()).toBe(400);
    expect(failed.shownStatus).toBe('400');
    expect(failed.shownBody).toEqual({
      code: 3,
      message: 'Code is invalid, 4 attempts left (COMMAND-eis9R)',
      details: [
        { '@type': ERROR_DETAIL, id: 'COMMAND-eis9R', message: 'Code is invalid, 4 attempts left' },
        {
          '@type': ERROR_INFO,
          reason: 'CODE_INVALID',
          domain: 'phone-verify',
          metadata: { attemptsRemaining: '4' },
        },
      ],
    });
    // exactly the body documented under "Responses", 400, example "wrongCode"
    const documented = verify.locator('.responses-wrapper tr.response[data-code="400"]');
    await documented.locator('select.examples-select-element').selectOption('wrongCode');
    const example = documented.locator('.model-example pre.microlight');
    await expect(example.innerText()).resolves.toContain('COMMAND-eis9R');
    expect(JSON.parse(await example.innerText())).toEqual(failed.shownBody);

    const ok = await execute(verify, user.userId, JSON.stringify({ verificationCode: user.phoneCode }));
    expect(ok.response.status()).toBe(200);
    expect(ok.shownStatus).toBe('200');
    expect(ok.shownBody).toEqual({
      details: { sequence: expect.any(String), changeDate: expect.any(String), resourceOwner: expect.any(String) },
    });
    const stored = await phoneApi(t).get(user.userId).expect(200);
    expect(stored.body.user.human.phone).toEqual({ phone: '+41791234567', isVerified: true });
    expect(problems).toEqual([]);
  });
});
