import { ReceiptRejected, ReceiptRequest } from './delivery-receipt';

/** A receipt body larger than this is no status report of one message. */
const MAX_RECEIPT_BODY = 16 * 1024;

/** One header's value (the first, when repeated), looked up case-insensitively. */
export function headerOf(request: ReceiptRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(request.headers)) {
    if (key.toLowerCase() !== wanted) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * The fields of a receipt that a provider may send as a query string (GET), a form or a JSON
 * object (POST): query parameters first, the body's fields over them. Every value is a string
 * (a JSON number or boolean is written as JSON writes it); nested values are refused.
 */
export function receiptParams(provider: string, request: ReceiptRequest): Record<string, string> {
  if (request.rawBody.length > MAX_RECEIPT_BODY) throw new ReceiptRejected(`${provider}: receipt too large`, 400);
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    throw new ReceiptRejected(`${provider}: receipt URL cannot be read`, 400);
  }
  const params: Record<string, string> = Object.fromEntries(url.searchParams);
  const text = request.rawBody.toString('utf8');
  if (text.trim() === '') return params;
  const type = (headerOf(request, 'content-type') ?? '').toLowerCase();
  if (type.includes('json') || (!type.includes('form') && text.trimStart().startsWith('{'))) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ReceiptRejected(`${provider}: receipt body is not JSON`, 400);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ReceiptRejected(`${provider}: receipt body is not a JSON object`, 400);
    }
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (value === null || value === undefined) continue;
      if (typeof value === 'object') throw new ReceiptRejected(`${provider}: receipt field ${key} is not a value`, 400);
      params[key] = String(value);
    }
    return params;
  }
  for (const [key, value] of new URLSearchParams(text)) params[key] = value;
  return params;
}

/** A required field, or a 400 naming it. */
export function requiredParam(provider: string, params: Record<string, string>, name: string): string {
  const value = params[name];
  if (value === undefined || value === '') throw new ReceiptRejected(`${provider}: receipt without ${name}`, 400);
  if (value.length > 200) throw new ReceiptRejected(`${provider}: receipt field ${name} too long`, 400);
  return value;
}
