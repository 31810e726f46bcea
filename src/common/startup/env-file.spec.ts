import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnvFile } from './env-file';
import { StartupError } from './startup-error';

describe(loadEnvFile.name, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pv-envfile-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fills in what the environment does not set, and tells which', () => {
    const file = join(dir, 'a.env');
    writeFileSync(file, '# comment\nPORT=9000\nHOST="127.0.0.1"\nexport LOG_LEVEL=debug\n');
    const env: NodeJS.ProcessEnv = { ENV_FILE: file, PORT: '8000' };
    expect(loadEnvFile(env)).toEqual({ path: file, applied: ['HOST', 'LOG_LEVEL'], overridden: ['PORT'] });
    expect(env).toMatchObject({ PORT: '8000', HOST: '127.0.0.1', LOG_LEVEL: 'debug' });
  });

  it('reads no file when ENV_FILE is empty, or when the default .env is missing', () => {
    expect(loadEnvFile({ ENV_FILE: '' })).toBeUndefined();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(loadEnvFile({})).toBeUndefined();
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a named file that is missing, naming ENV_FILE', () => {
    const file = join(dir, 'missing.env');
    expect(() => loadEnvFile({ ENV_FILE: file })).toThrow(
      new StartupError(`ENV_FILE: cannot read ${file} (no such file)`, { setting: 'ENV_FILE' }),
    );
  });
});
