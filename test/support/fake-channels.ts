import { randomBytes, randomUUID } from 'node:crypto';
import { importSPKI, jwtVerify } from 'jose';
import { FakeHttpServer, Received, Reply } from './fake-http';
import { FakeTwilioAccount } from './fake-twilio';

const json = (status: number, body: object): Reply => ({ status, body: JSON.stringify(body) });

/**
 * A fake of Meta's WhatsApp Cloud API (Graph API) on 127.0.0.1, after its reference: POST
 * /{version}/{phone-number-id}/messages with a Bearer token, a template message (name, language
 * code, body and button parameters); 200 with `messages[0].id` ("wamid.…"), Graph errors as
 * `{"error": {message, type, code, fbtrace_id}}`. `answer` overrides the reply of a valid request.
 */
export class FakeMeta extends FakeHttpServer {
  readonly sent: { to: string; template: Record<string, any>; id: string; request: Received }[] = [];
  answer?: (r: Received) => Reply | Promise<Reply>;

  constructor(
    readonly version: string,
    readonly phoneNumberId: string,
    readonly token: string,
  ) {
    super();
    this.handler = (r) => this.messages(r);
  }

  private async messages(r: Received): Promise<Reply> {
    const error = (status: number, code: number, message: string) =>
      json(status, { error: { message, type: 'OAuthException', code, fbtrace_id: 'AbCdEf123' } });
    if (r.headers.authorization !== `Bearer ${this.token}`) return error(401, 190, 'Invalid OAuth access token.');
    if (r.method !== 'POST' || r.path !== `/${this.version}/${this.phoneNumberId}/messages`) {
      return error(400, 100, 'Unsupported post request.');
    }
    const body = r.json;
    if (body.messaging_product !== 'whatsapp' || body.type !== 'template' || !/^\d{6,15}$/.test(body.to ?? '')) {
      return error(400, 100, 'Invalid parameter');
    }
    const template = body.template ?? {};
    if (typeof template.name !== 'string' || typeof template.language?.code !== 'string') {
      return error(400, 131008, 'Required parameter is missing');
    }
    if (this.answer) return this.answer(r);
    const id = `wamid.${randomBytes(12).toString('hex')}`;
    this.sent.push({ to: body.to, template, id, request: r });
    return json(200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: body.to, wa_id: body.to }],
      messages: [{ id }],
    });
  }
}

/**
 * A fake of Twilio's Messages and Calls resources on 127.0.0.1: Basic auth with the account SID and
 * auth token; a Message needs To, From and Body or ContentSid, a Call To, From and Url or Twiml;
 * 201 with a fresh sid (SM… or CA…); Twilio's error document otherwise.
 */
export class FakeTwilioApi extends FakeTwilioAccount {
  readonly created: { resource: 'Messages' | 'Calls'; sid: string; form: Record<string, string> }[] = [];
  answer?: (r: Received) => Reply | Promise<Reply>;

  protected async create(r: Received): Promise<Reply> {
    const error = (status: number, code: number, message: string) =>
      json(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
    if (!this.authorized(r)) return error(401, 20003, 'Authenticate');
    const match = new RegExp(`^/2010-04-01/Accounts/${this.accountSid}/(Messages|Calls)\\.json$`).exec(r.path);
    if (r.method !== 'POST' || !match) return error(404, 20404, 'Not found');
    const form = Object.fromEntries(r.form);
    const resource = match[1] as 'Messages' | 'Calls';
    if (!form.To) return error(400, 21604, "A 'To' phone number is required.");
    if (!form.From) return error(400, 21603, "A 'From' phone number is required.");
    if (resource === 'Messages' && !form.Body && !form.ContentSid)
      return error(400, 21602, 'Message body is required.');
    if (resource === 'Calls' && !form.Url && !form.Twiml) return error(400, 21205, 'Url or Twiml is required.');
    if (this.answer) return this.answer(r);
    const sid = `${resource === 'Calls' ? 'CA' : 'SM'}${randomBytes(16).toString('hex')}`;
    this.created.push({ resource, sid, form });
    return json(201, { sid, status: 'queued', to: form.To });
  }
}

/**
 * A fake of Vonage's Voice API on 127.0.0.1: POST /v1/calls with a Bearer JWT that the
 * application's public key verifies (RS256, application_id), `to`, `from` and an `ncco`; 201 with
 * the call's uuid, Vonage's problem document (`type`, `title`, `detail`) otherwise.
 */
export class FakeVonageVoice extends FakeHttpServer {
  readonly calls: { uuid: string; body: Record<string, any>; claims: Record<string, unknown> }[] = [];
  answer?: (r: Received) => Reply | Promise<Reply>;

  constructor(
    readonly applicationId: string,
    readonly publicKeyPem: string,
  ) {
    super();
    this.handler = (r) => this.create(r);
  }

  private async create(r: Received): Promise<Reply> {
    const problem = (status: number, title: string) =>
      json(status, { type: 'https://developer.nexmo.com/api-errors#unauthorized', title, detail: title });
    let claims: Record<string, unknown>;
    try {
      const token = /^Bearer (.+)$/.exec(String(r.headers.authorization))?.[1] ?? '';
      const key = await importSPKI(this.publicKeyPem, 'RS256');
      claims = (await jwtVerify(token, key, { algorithms: ['RS256'] })).payload as Record<string, unknown>;
    } catch {
      return problem(401, 'Unauthorized');
    }
    if (claims.application_id !== this.applicationId) return problem(401, 'Unauthorized');
    if (r.method !== 'POST' || r.path !== '/v1/calls') return problem(404, 'Not Found');
    const body = r.json;
    if (!Array.isArray(body.to) || body.to[0]?.type !== 'phone' || !/^\d{6,15}$/.test(body.to[0]?.number ?? '')) {
      return problem(400, 'Bad Request');
    }
    if (!Array.isArray(body.ncco) || body.ncco.length === 0 || !body.from?.number) return problem(400, 'Bad Request');
    if (this.answer) return this.answer(r);
    const uuid = randomUUID();
    this.calls.push({ uuid, body, claims });
    return json(201, { uuid, status: 'started', direction: 'outbound', conversation_uuid: `CON-${randomUUID()}` });
  }
}
