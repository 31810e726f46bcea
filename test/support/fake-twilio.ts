import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { twilioSignature } from '../../src/phone/sms/twilio-receipts';
import { FakeHttpServer, Received, Reply } from './fake-http';
import type { TestApp } from './test-app';

/** One Message the fake Twilio created: what a test checks of the request, and its sid. */
export interface TwilioMessage {
  sid: string;
  to: string;
  body: string;
  statusCallback?: string;
  validityPeriod?: number;
  request: Received;
}

/** A fake of a Twilio account's REST API on 127.0.0.1: `create` answers each request. */
export abstract class FakeTwilioAccount extends FakeHttpServer {
  constructor(
    readonly accountSid: string,
    readonly authToken: string,
  ) {
    super();
    this.handler = (r) => this.create(r);
  }

  protected abstract create(r: Received): Promise<Reply>;

  /** Whether the request carries the account's Basic credentials. */
  protected authorized(r: Received): boolean {
    return (
      r.headers.authorization === `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`
    );
  }
}

/**
 * A fake of Twilio's Messages API on 127.0.0.1: it checks Basic auth and the path, records each
 * Message with its StatusCallback and ValidityPeriod, and answers 201 with a fresh sid.
 * `beforeAnswer` runs before the answer is sent (a test posts the status callback there, so the
 * receipt comes before the send's answer is stored); `answer` overrides the reply.
 */
export class FakeTwilio extends FakeTwilioAccount {
  readonly messages: TwilioMessage[] = [];
  beforeAnswer?: (message: TwilioMessage) => Promise<void>;
  answer?: (message: TwilioMessage) => Reply;

  protected async create(r: Received): Promise<Reply> {
    if (!this.authorized(r)) return { status: 401, body: JSON.stringify({ code: 20003, status: 401 }) };
    if (r.method !== 'POST' || r.path !== `/2010-04-01/Accounts/${this.accountSid}/Messages.json`) {
      return { status: 404, body: JSON.stringify({ code: 20404, status: 404 }) };
    }
    const validity = r.form.get('ValidityPeriod');
    const message: TwilioMessage = {
      sid: `SM${randomBytes(16).toString('hex')}`,
      to: r.form.get('To') ?? '',
      body: r.form.get('Body') ?? '',
      statusCallback: r.form.get('StatusCallback') ?? undefined,
      validityPeriod: validity === null ? undefined : Number(validity),
      request: r,
    };
    this.messages.push(message);
    await this.beforeAnswer?.(message);
    if (this.answer) return this.answer(message);
    return { status: 201, body: JSON.stringify({ sid: message.sid, status: 'queued', to: message.to }) };
  }

  /** The messages to one number. */
  to(phone: string): TwilioMessage[] {
    return this.messages.filter((m) => m.to === phone);
  }
}

/**
 * Posts a status callback as Twilio does: form-encoded, X-Twilio-Signature over `signedUrl` (the
 * public URL the app was told) and the sorted fields, to the app's real address.
 */
export function postTwilioCallback(
  t: TestApp,
  signedUrl: string,
  authToken: string,
  fields: Record<string, string>,
  signature?: string,
) {
  const form = new URLSearchParams(fields);
  const port = (t.app.getHttpServer().address() as AddressInfo).port;
  return request(`http://127.0.0.1:${port}`)
    .post('/v2/sms/receipts/twilio')
    .set('Content-Type', 'application/x-www-form-urlencoded')
    .set('X-Twilio-Signature', signature ?? twilioSignature(authToken, signedUrl, form))
    .send(form.toString());
}
