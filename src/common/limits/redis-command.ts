import { redisFault } from '../errors/dependency-error';
import type { DependencyOutages } from '../errors/dependency-outages';
import { inSpan, KIND } from '../tracing/tracing';

/**
 * One command of a store kept in Redis: a client span named after `operation`, a failure turned
 * into the DependencyError of Redis (503), a success noted as Redis answering again.
 */
export async function redisCommand<T>(
  operation: string,
  command: () => Promise<T>,
  outages?: DependencyOutages,
): Promise<T> {
  const attributes = { 'db.system': 'redis', 'db.system.name': 'redis', 'db.operation.name': operation };
  let answer: T;
  try {
    answer = await inSpan(operation, KIND.CLIENT, attributes, command);
  } catch (error) {
    throw redisFault(error);
  }
  outages?.succeeded('redis');
  return answer;
}
