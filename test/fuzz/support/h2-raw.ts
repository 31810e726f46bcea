import { connect as netConnect, Socket } from 'node:net';
import { PREFACE } from '../../../src/common/http/h2-preface';
import { ANSWER_MS } from './wire-clients';

export { PREFACE };

// hpack.js has no typings
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hpack = require('hpack.js') as {
  decompressor: {
    create(options: { table: { size: number } }): {
      write(chunk: Buffer): void;
      execute(): void;
      read(): { name: string; value: string } | null;
    };
  };
};

/** Frame types and flags (RFC 9113 §6). */
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 };
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 };

export function h2Frame(type: number, flags: number, stream: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, bits: number, first = 0): number[] {
  const max = (1 << bits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 0x7f) | 0x80);
  return [...out, value];
}

/** A header block of literal fields without indexing and without Huffman: the simplest a client may send. */
export function headerBlock(fields: Array<[string, string]>): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    bytes.push(0x00, ...hpackInt(n.length, 7), ...n, ...hpackInt(v.length, 7), ...v);
  }
  return Buffer.from(bytes);
}

export interface RawFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
  /** HEADERS (with its CONTINUATIONs): the decoded fields */
  fields?: Map<string, string>;
}

/**
 * HTTP/2 written byte by byte, as no well-behaved client would: frames of any type, flags, length
 * and split, header blocks cut into CONTINUATIONs or padded. Enough of a client to read what the
 * server answers (its header blocks decoded), and to tell an answer, a close and a hang apart:
 * one connection, what we write going out as given, the server's SETTINGS acknowledged.
 */
export class RawH2 {
  readonly frames: RawFrame[] = [];
  readonly closed: Promise<void>;
  private readonly socket: Socket;
  private received: Buffer = Buffer.alloc(0);
  private readonly decoder = hpack.decompressor.create({ table: { size: 4096 } });
  private block: Buffer[] = [];
  private blockFrame?: RawFrame;
  private waiters: Array<() => void> = [];
  private ended = false;
  private splitting = false;
  private acks = 0;

  constructor(port: number) {
    this.socket = netConnect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('error', () => undefined);
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    void this.closed.then(() => {
      this.ended = true;
      this.wake();
    });
  }

  get isClosed(): boolean {
    return this.ended;
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  /**
   * Writes the bytes in pieces of `size`, each in a write (and a TCP segment) of its own; the
   * acknowledgement of the server's SETTINGS follows them (not in the middle of a frame).
   */
  async writeSplit(bytes: Buffer, size = 1): Promise<void> {
    this.splitting = true;
    for (let i = 0; i < bytes.length; i += size) {
      await this.write(bytes.subarray(i, i + size));
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.splitting = false;
    for (; this.acks > 0; this.acks--) await this.write(h2Frame(FRAME.SETTINGS, FLAG.ACK, 0));
  }

  /** Our side done (FIN): the server has nothing more to wait for. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * The first frame that `match`es, or 'closed' when the connection closes before one comes;
   * throws when neither happens within `ms` (the connection hangs).
   */
  async until(match: (frame: RawFrame) => boolean, ms = ANSWER_MS): Promise<RawFrame | 'closed'> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.ended) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) {
        this.destroy();
        throw new Error(`neither an answer nor a close within ${ms} ms (the connection hangs)`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The end of stream `id`'s answer (a header block or DATA with END_STREAM, or its reset), a GOAWAY, or a close. */
  answerOf(id: number, ms = ANSWER_MS): Promise<RawFrame | 'closed'> {
    return this.until(
      (f) =>
        f.type === FRAME.GOAWAY ||
        (f.stream === id && (f.type === FRAME.RST_STREAM || (f.flags & FLAG.END_STREAM) !== 0)),
      ms,
    );
  }

  /** Every field the server sent on stream `id` (headers and trailers). */
  fieldsOf(id: number): Map<string, string> {
    const fields = new Map<string, string>();
    for (const f of this.frames) if (f.stream === id && f.fields) for (const [k, v] of f.fields) fields.set(k, v);
    return fields;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private read(chunk: Buffer): void {
    this.received = Buffer.concat([this.received, chunk]);
    while (this.received.length >= 9) {
      const length = this.received.readUIntBE(0, 3);
      if (this.received.length < 9 + length) break;
      const frame: RawFrame = {
        type: this.received[3],
        flags: this.received[4],
        stream: this.received.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.received.subarray(9, 9 + length)),
      };
      this.received = this.received.subarray(9 + length);
      if (frame.type === FRAME.SETTINGS && !(frame.flags & FLAG.ACK)) {
        if (this.splitting) this.acks++;
        else void this.write(h2Frame(FRAME.SETTINGS, FLAG.ACK, 0));
      }
      if (frame.type === FRAME.HEADERS || frame.type === FRAME.CONTINUATION) this.headerFragment(frame);
      this.frames.push(frame);
    }
    this.wake();
  }

  private headerFragment(frame: RawFrame): void {
    let payload = frame.payload;
    if (frame.type === FRAME.HEADERS) {
      if (frame.flags & FLAG.PADDED) payload = payload.subarray(1, payload.length - payload[0]);
      if (frame.flags & FLAG.PRIORITY) payload = payload.subarray(5);
      this.blockFrame = frame;
    }
    this.block.push(payload);
    if (!(frame.flags & FLAG.END_HEADERS) || !this.blockFrame) return;
    this.decoder.write(Buffer.concat(this.block));
    this.decoder.execute();
    const fields = new Map<string, string>();
    for (let field = this.decoder.read(); field; field = this.decoder.read()) fields.set(field.name, field.value);
    // the END_STREAM of a header block split in CONTINUATIONs is on its HEADERS
    frame.fields = fields;
    frame.flags |= this.blockFrame.flags & FLAG.END_STREAM;
    frame.stream = this.blockFrame.stream;
    this.block = [];
    this.blockFrame = undefined;
  }
}

/** The request headers of a gRPC call (or, with another content type, of any POST). */
export function requestFields(path: string, contentType: string | undefined, port: number): Array<[string, string]> {
  return [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', `127.0.0.1:${port}`],
    ...(contentType === undefined ? [] : ([['content-type', contentType]] as Array<[string, string]>)),
    ['te', 'trailers'],
  ];
}
