import { connect as http2Connect, ClientHttp2Session, constants, OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';

/**
 * Clients that send what a well-behaved one would refuse to: raw HTTP/1.1 bytes, and HTTP/2
 * gRPC calls with any headers and frames. Each answer must come within ANSWER_MS, or the
 * connection counts as hung.
 */
export const ANSWER_MS = 10_000;

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One request of raw bytes on its own connection (the request should say Connection: close). */
export function rawHttp(port: number, request: Buffer): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${ANSWER_MS} ms (the connection hangs)`));
    }, ANSWER_MS);
    socket.on('data', (chunk) => chunks.push(chunk));
    // the server may close while we still write a large request; what it answered counts
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseHttp(Buffer.concat(chunks)));
      } catch (error) {
        reject(error as Error);
      }
    });
    // not end(): a half-closed socket may be closed by the server before it answers
    socket.write(request);
  });
}

function parseHttp(raw: Buffer): HttpAnswer {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no HTTP answer, the connection closed after ${raw.length} bytes`);
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, body };
}

function unchunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export interface Http2Answer {
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  data: Buffer;
}

/** One HTTP/2 session to the gRPC port, shared by the calls of a property. */
export function http2Session(address: string): ClientHttp2Session {
  const session = http2Connect(`http://${address}`);
  session.on('error', () => undefined);
  return session;
}

/** A gRPC call made by hand: the headers and DATA as given, the answer unparsed. */
export function http2Call(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body: Buffer,
): Promise<Http2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ [constants.HTTP2_HEADER_METHOD]: 'POST', ...headers });
    const chunks: Buffer[] = [];
    let answer: Http2Answer['headers'] = {};
    let trailers: Http2Answer['trailers'] = {};
    const timer = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer within ${ANSWER_MS} ms (the call hangs)`));
    }, ANSWER_MS);
    stream.on('response', (h) => (answer = h));
    stream.on('trailers', (h) => (trailers = h));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    stream.on('close', () => {
      clearTimeout(timer);
      if (stream.rstCode && stream.rstCode !== constants.NGHTTP2_NO_ERROR && !answer[':status']) {
        reject(new Error(`the server reset the stream (code ${stream.rstCode}) without an answer`));
      } else resolve({ headers: answer, trailers, data: Buffer.concat(chunks) });
    });
    // a GET or HEAD stream is ended with its headers by Node's client
    if (stream.writableEnded) return;
    stream.end(body);
  });
}

/** A length-prefixed gRPC message. */
export function grpcFrame(payload: Uint8Array, flags = 0, length = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(length >>> 0, 1);
  return Buffer.concat([header, payload]);
}

/** The frames of a gRPC(-web) body: messages, and a gRPC-web trailer frame's fields. */
export function unframe(body: Buffer): { messages: Buffer[]; trailers: Record<string, string>; rest: number } {
  const messages: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let offset = 0;
  while (offset + 5 <= body.length) {
    const flags = body[offset];
    const end = offset + 5 + body.readUInt32BE(offset + 1);
    if (end > body.length) break;
    const payload = body.subarray(offset + 5, end);
    if (flags & 0x80) {
      for (const line of payload.toString('latin1').split('\r\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    } else messages.push(payload);
    offset = end;
  }
  return { messages, trailers, rest: body.length - offset };
}
