import { Agent, IncomingHttpHeaders, request } from 'node:http';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

/**
 * One HTTP request with a JSON body; resolves with any answer, rejects when none came (the
 * connection failed or closed first, or `timeoutMs` passed): then nobody knows whether it was done.
 */
export function httpJson(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
    agent?: Agent;
    timeoutMs?: number;
  } = {},
): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        agent: options.agent,
        headers: {
          ...(payload === undefined
            ? {}
            : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: kept as text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', (error: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
      // a keep-alive connection the server closed as the request went out, or a new one that broke
      error.reusedSocket = req.reusedSocket;
      reject(error);
    });
    req.end(payload);
  });
}

/** The ID of an error body ("COMMAND-eis9R"), if it is one. */
export function errorId(body: any): string | undefined {
  const id = body?.details?.[0]?.id;
  return typeof id === 'string' ? id : undefined;
}

/** attemptsRemaining of a wrong-code answer's ErrorInfo. */
export function attemptsRemaining(body: any): number | undefined {
  const details = Array.isArray(body?.details) ? (body.details as any[]) : [];
  const info = details.find((d) => typeof d?.metadata?.attemptsRemaining === 'string');
  return info ? Number(info.metadata.attemptsRemaining) : undefined;
}
