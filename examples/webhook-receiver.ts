/**
 * A receiver of phone-verify's event webhooks (docs/webhooks.md), with nothing but Node's own
 * modules: it checks `ZITADEL-Signature` over the raw body, refuses a timestamp more than five
 * minutes off, and handles each event id once (a delivery may come again).
 *
 *   WEBHOOK_SECRET=… PORT=4000 npx ts-node examples/webhook-receiver.ts
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PhoneEvent {
  id: string;
  type: string;
  time: string;
  org: string;
  user: string;
  channel: string;
  country: string | null;
  phoneLast2: string | null;
  correlationId: string | null;
  data: Record<string, unknown>;
}

const TOLERANCE_SECONDS = 300;

/** true when `header` is `t=<unix>,v1=<hex HMAC-SHA-256(secret, "<t>.<body>")>`, recent and matching. */
export function verifySignature(
  secret: string,
  header: string | undefined,
  rawBody: string,
  now = Date.now(),
): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const timestamp = Number(match[1]);
  if (Math.abs(now / 1000 - timestamp) > TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2], 'hex'));
}

export interface Receiver {
  url: string;
  /** the events handled, once each, in the order they came */
  events: PhoneEvent[];
  /** requests refused for their signature */
  rejected: number;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  secret: string;
  /** 0: any free port */
  port?: number;
  onEvent?: (event: PhoneEvent) => void;
  /** the receiver's clock, in epoch ms, that timestamps are checked against */
  now?: () => number;
}

/** Listens on 127.0.0.1 and hands each new, correctly signed event to `onEvent`. */
export async function startReceiver({
  secret,
  port = 0,
  onEvent = () => undefined,
  now = Date.now,
}: ReceiverOptions): Promise<Receiver> {
  const seen = new Set<string>();
  const receiver: Receiver = { url: '', events: [], rejected: 0, close: () => closeServer(server) };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // the signature covers the bytes as they came: check it before parsing them
      const raw = Buffer.concat(chunks).toString('utf8');
      const header = req.headers['zitadel-signature'];
      if (!verifySignature(secret, typeof header === 'string' ? header : undefined, raw, now())) {
        receiver.rejected += 1;
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(raw) as PhoneEvent;
      if (!seen.has(event.id)) {
        seen.add(event.id);
        receiver.events.push(event);
        onEvent(event);
      }
      // a 2xx for a repeat too, or it would come again
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/phone-events`;
  return receiver;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

if (require.main === module) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) throw new Error('set WEBHOOK_SECRET to the secret of your EVENT_WEBHOOKS entry');
  const port = Number(process.env.PORT ?? 4000);
  const onEvent = (event: PhoneEvent) =>
    console.log(`${event.type} user=${event.user} correlation=${event.correlationId ?? '-'}`);
  void startReceiver({ secret, port, onEvent }).then((receiver) => console.log(`listening on ${receiver.url}`));
}
