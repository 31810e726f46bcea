import { Writable } from 'node:stream';
import { ConfigError } from '../../src/common/config/config-error';
import { createRootLogger } from '../../src/common/logging/logging';
import { logStartupFailure } from '../../src/common/startup/startup-error';
import { Db, startApp } from './test-app';

/** The lines main.ts writes for a start that failed with `error`. */
export function fatalLines(error: unknown): Record<string, unknown>[] {
  const lines: string[] = [];
  const out = new Writable({
    write: (chunk: Buffer, _enc, done) => done(void lines.push(...chunk.toString().split('\n').filter(Boolean))),
  });
  logStartupFailure(createRootLogger('info', out), error);
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * A start with `env` that its settings refuse: the ConfigError and the lines main.ts writes for it.
 * A start that succeeds (the app closed again) or fails otherwise fails the test.
 */
export async function refusedStart(
  db: Db,
  env: Record<string, string>,
): Promise<{ error: ConfigError; lines: Record<string, unknown>[] }> {
  const error = await startApp(db, env).then(
    (app) => app.close().then(() => undefined),
    (e: unknown) => e,
  );
  if (!(error instanceof ConfigError)) throw new Error(`the settings did not refuse the start: ${String(error)}`);
  return { error, lines: fatalLines(error) };
}
