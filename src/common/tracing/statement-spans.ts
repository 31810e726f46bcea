import { inSpan, KIND, tracingActive } from './tracing';

/** A span with the statement's operation and the database only (the text is long, values never). */
export function statementSpan<T>(postgres: boolean, sql: string, run: () => Promise<T>): Promise<T> {
  if (!tracingActive()) return run();
  const system = postgres ? 'postgresql' : 'sqlite';
  const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';
  return inSpan(
    operation,
    KIND.CLIENT,
    { 'db.system': system, 'db.system.name': system, 'db.operation.name': operation },
    run,
  );
}
