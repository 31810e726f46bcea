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

/** The client connection preface of HTTP/2 (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** An empty SETTINGS frame: our side of the preface, sent before the real server takes over. */
export const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE's initial value: a client may not send larger frames before we allow it. */
const MAX_FRAME = 16_384;

export class PrefaceError extends Error {}

/**
 * Reads the start of an HTTP/2 connection up to its first request's headers, so the connection
 * can be handed to the server that speaks that request's protocol. The client's frames are kept
 * (to be replayed to that server) except its acknowledgement of our empty SETTINGS, which the
 * server that takes over never sent.
 */
export class PrefaceReader {
  private buffered: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private readonly kept: Buffer[] = [];
  private readonly block: Buffer[] = [];
  private headersStream = 0;
  private headersDone = false;
  private acked = false;
  private size = 0;

  constructor(private readonly limit: number) {}

  /** Whether the client's preface is in (our SETTINGS may go out). */
  get prefaceRead(): boolean {
    return this.prefaceSeen;
  }

  /** Adds bytes read; true once the first request's headers and our SETTINGS' ACK are in. */
  push(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > this.limit) throw new PrefaceError('too much before the first request');
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    if (!this.prefaceSeen) {
      if (this.buffered.length < PREFACE.length) return false;
      if (!this.buffered.subarray(0, PREFACE.length).equals(PREFACE)) throw new PrefaceError('not an HTTP/2 preface');
      this.kept.push(PREFACE);
      this.buffered = this.buffered.subarray(PREFACE.length);
      this.prefaceSeen = true;
    }
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (length > MAX_FRAME) throw new PrefaceError('frame larger than SETTINGS_MAX_FRAME_SIZE');
      if (this.buffered.length < 9 + length) break;
      const frame = this.buffered.subarray(0, 9 + length);
      this.buffered = this.buffered.subarray(9 + length);
      this.read(frame);
    }
    return this.headersDone && this.acked;
  }

  /** The bytes to replay to the server that takes the connection over. */
  replay(): Buffer {
    return Buffer.concat([...this.kept, this.buffered]);
  }

  /** The first request's headers (names lower-case, as HTTP/2 sends them). */
  headers(): Map<string, string> {
    const decoder = hpack.decompressor.create({ table: { size: 4096 } });
    decoder.write(Buffer.concat(this.block));
    try {
      decoder.execute();
    } catch {
      throw new PrefaceError('the first request headers do not decode');
    }
    const headers = new Map<string, string>();
    for (let field = decoder.read(); field; field = decoder.read()) {
      if (!headers.has(field.name)) headers.set(field.name, field.value);
    }
    return headers;
  }

  private read(frame: Buffer): void {
    const type = frame[3];
    const flags = frame[4];
    const stream = frame.readUInt32BE(5) & 0x7fffffff;
    if (type === SETTINGS && flags & ACK) {
      if (this.acked) throw new PrefaceError('SETTINGS acknowledged twice');
      this.acked = true; // ours: the server that takes over must not see it
      return;
    }
    this.kept.push(frame);
    if (this.headersDone) return;
    const expectingContinuation = this.headersStream !== 0;
    if (expectingContinuation && (type !== CONTINUATION || stream !== this.headersStream)) {
      throw new PrefaceError('header block interrupted');
    }
    if (type === HEADERS && !expectingContinuation) {
      let payload = frame.subarray(9);
      if (flags & PADDED) {
        if (payload.length === 0 || payload[0] >= payload.length) throw new PrefaceError('bad padding');
        payload = payload.subarray(1, payload.length - payload[0]);
      }
      if (flags & PRIORITY) payload = payload.subarray(5);
      this.block.push(payload);
      this.headersStream = stream;
    } else if (type === CONTINUATION && expectingContinuation) {
      this.block.push(frame.subarray(9));
    } else return;
    if (flags & END_HEADERS) this.headersDone = true;
  }
}
