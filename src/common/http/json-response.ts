import type { ServerResponse } from 'node:http';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Answers with a JSON body through Node's own response (headers set before are kept), as
 * Express's `res.json` would with this app's settings (no replacer, no spacing, no ETag), without
 * its content-type parsing and freshness check. A HEAD request gets the headers alone.
 */
export function answerJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}
