import { boundText } from '../errors/bounded-text';

/** gRPC-web framing: [flags:1][length:4 big-endian][payload]; flags 0x80 marks the trailer frame. */
export const DATA_FRAME = 0x00;
export const TRAILER_FRAME = 0x80;
const COMPRESSED = 0x01;

export class FrameError extends Error {}

/** The single message of a unary call; anything else is the client's mistake. */
export function readUnaryMessage(body: Buffer): Buffer {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (body.length - offset < 5) throw new FrameError('truncated frame header');
    const flags = body[offset];
    const length = body.readUInt32BE(offset + 1);
    const end = offset + 5 + length;
    if (end > body.length) throw new FrameError('truncated frame: the body is shorter than the frame length');
    if (flags & COMPRESSED) throw new FrameError('compressed frames are not supported');
    if (flags === DATA_FRAME) messages.push(body.subarray(offset + 5, end));
    else if (flags !== TRAILER_FRAME) throw new FrameError(`unknown frame flags 0x${flags.toString(16)}`);
    offset = end;
  }
  if (messages.length !== 1) throw new FrameError(`a unary call takes exactly one message, got ${messages.length}`);
  return messages[0];
}

export function frame(flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** The trailer frame: HTTP/1-style header lines. */
export function trailerFrame(trailers: Record<string, string>): Buffer {
  const text = Object.entries(trailers)
    .map(([key, value]) => `${key}:${value}\r\n`)
    .join('');
  return frame(TRAILER_FRAME, Buffer.from(text, 'utf8'));
}

/**
 * grpc-message percent-encoding (gRPC over HTTP/2): bytes outside 0x20–0x7E, and '%', become %XX.
 * The text is bounded first, as every message that travels in trailers (bounded-text.ts).
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(boundText(message), 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
