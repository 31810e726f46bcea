import { Dependency, DependencyError } from '../../common/errors/dependency-error';
import { inSpan, KIND } from '../../common/tracing/tracing';
import { fetchPost, postSpanAttributes } from '../sms/http-delivery';

/**
 * POSTs to a pre-send dependency with a deadline, without following redirects, and reads its
 * answer with `read`. No answer in time, a network error, or whatever `read` throws is the
 * dependency's fault: a DependencyError named `dependency` (503, or the caller's fallback).
 */
export async function postToDependency<T>(
  dependency: Extract<Dependency, 'captcha' | 'send_hook'>,
  url: string,
  init: { headers: Record<string, string>; body: string },
  timeoutMs: number,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  const attributes = postSpanAttributes(url);
  try {
    return await inSpan('POST', KIND.CLIENT, attributes, async () => {
      return await read(await fetchPost(url, init, timeoutMs));
    });
  } catch (error) {
    throw new DependencyError(dependency, error);
  }
}
