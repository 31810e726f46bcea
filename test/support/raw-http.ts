import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** the body as text; '' when the server sent none */
  body: string;
  /** whether the server closed the connection after answering */
  closed: boolean;
}

/**
 * Writes bytes to the HTTP port as they are, for what supertest cannot send (oversized request
 * lines and headers, garbage), and reads the one answer up to the server's end of the connection.
 */
export function rawHttp(port: number, request: string | Buffer, timeoutMs = 20_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`no end of the answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error && chunks.length === 0) return reject(error);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = (split < 0 ? text : text.slice(0, split)).split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0),
        headers,
        body: split < 0 ? '' : text.slice(split + 4),
        closed: !error,
      });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    // the server may reset the connection while the rest of an oversized request is still coming
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish());
    socket.write(request);
  });
}
