import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { StartupError } from './startup-error';

export interface EnvFileRead {
  path: string;
  /** variables taken from the file */
  applied: string[];
  /** variables of the file the environment sets already: the environment wins */
  overridden: string[];
}

/**
 * Settings from ENV_FILE (unset: `.env` if it exists; empty: none), parsed as Node's `--env-file`
 * does; the environment wins over the file.
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env): EnvFileRead | undefined {
  const named = env.ENV_FILE;
  if (named === '') return undefined;
  const path = resolve(named ?? '.env');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (named === undefined && code === 'ENOENT') return undefined;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code;
    throw new StartupError(`ENV_FILE: cannot read ${path} (${why})`, { setting: 'ENV_FILE', path, code });
  }
  const applied: string[] = [];
  const overridden: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (value === undefined) continue;
    if (env[name] !== undefined) {
      overridden.push(name);
    } else {
      env[name] = value;
      applied.push(name);
    }
  }
  return { path, applied: applied.sort(), overridden: overridden.sort() };
}
