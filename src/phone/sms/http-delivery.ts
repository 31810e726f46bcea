import { inSpan, KIND } from '../../common/tracing/tracing';
import { SmsDeliveryError, SmsErrorCode } from './sms-sender';

/** Statuses after which the same request may succeed later: timeouts, rate limits, outages. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** The class of a failed answer's status; 429 apart, it is the provider asking us to slow down. */
export function statusErrorCode(status: number): SmsErrorCode {
  if (status === 429) return 'http_429';
  if (status >= 300 && status < 400) return 'http_3xx';
  if (status >= 400 && status < 500) return 'http_4xx';
  if (status >= 500 && status < 600) return 'http_5xx';
  return 'other';
}

/** An HTTP Basic Authorization header's value. */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** One POST with a deadline that follows no redirect (a redirect would re-send the body to another address). */
export function fetchPost(
  url: string,
  init: { headers: Record<string, string>; body: string },
  timeoutMs: number,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: init.headers,
    body: init.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/**
 * POSTs with a deadline, without following redirects (a redirect would re-send the code to
 * another address). Timeouts and network errors become retryable SmsDeliveryErrors.
 */
export async function postWithTimeout(
  provider: string,
  url: string,
  init: { headers: Record<string, string>; body: string },
  timeoutMs: number,
): Promise<Response> {
  try {
    return await inSpan('POST', KIND.CLIENT, spanAttributes(provider, url), async (span) => {
      const response = await fetchPost(url, init, timeoutMs);
      span?.setAttribute('http.response.status_code', response.status);
      return response;
    });
  } catch (error) {
    throw networkFailure(provider, error, timeoutMs);
  }
}

/** A client POST span's attributes: host and port only (a webhook's path or query may carry a secret, the body the code and number). */
export function postSpanAttributes(url: string): Record<string, string | number> {
  const { hostname, port, protocol } = new URL(url);
  return {
    'http.request.method': 'POST',
    'server.address': hostname,
    'server.port': Number(port) || (protocol === 'https:' ? 443 : 80),
  };
}

function spanAttributes(provider: string, url: string): Record<string, string | number> {
  return { ...postSpanAttributes(url), 'sms.provider': provider };
}

export function networkFailure(provider: string, error: unknown, timeoutMs: number): SmsDeliveryError {
  if (error instanceof SmsDeliveryError) return error;
  const name = (error as { name?: string } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new SmsDeliveryError(`${provider}: no answer within ${timeoutMs} ms`, true, 'timeout');
  }
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error | undefined)?.message ?? 'unknown error';
  return new SmsDeliveryError(`${provider}: request failed (${detail})`, true, 'network');
}

/** Reads and discards the body so the connection can be reused; a failure here changes nothing. */
export async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // the outcome is already known from the status
  }
}
