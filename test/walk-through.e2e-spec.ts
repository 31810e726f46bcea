import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { PG_URL, startApp, TestApp } from './support/test-app';

const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const SECOND_PASTE = '--- pasted again ---';

/** The README from a "tested" marker up to the next section of the same level. */
function section(marker: string): string {
  const at = README.indexOf(`<!-- tested: ${marker} -->`);
  if (at < 0) throw new Error(`the README lost its marker "${marker}"`);
  return README.slice(at, README.indexOf('\n## ', at));
}

const shellBlocks = (text: string) => [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);

/** The walk-through's shell blocks, and the answers it shows: comment lines that are JSON or "true". */
function walkThrough(): { script: string; blocks: number; expected: string[] } {
  const blocks = shellBlocks(section('test/walk-through.e2e-spec.ts runs these blocks'));
  const script = blocks.join('\n');
  const expected = script
    .split('\n')
    .filter((line) => /^# ({.*}|true)$/.test(line))
    .map((line) => line.slice(2));
  return { script, blocks: blocks.length, expected };
}

/** "…" in a shown answer stands for an id or date of one's own. */
function matches(shown: string, actual: string): boolean {
  const pattern = shown
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^"]*');
  return new RegExp(`^${pattern}$`).test(actual);
}

/** Every shown answer, in order; the code echoed after the first one is six digits. */
function expectShownAnswers(stdout: string, expected: string[]): void {
  const answers = stdout.split('\n').filter(Boolean);
  expect(answers).toHaveLength(expected.length + 1);
  expect(answers[1]).toMatch(/^\d{6}$/);
  const shown = [answers[0], ...answers.slice(2)];
  shown.forEach((answer, i) => expect({ answer, ok: matches(expected[i], answer) }).toEqual({ answer, ok: true }));
}

/**
 * Feeds the text to bash on its standard input, as a paste into a terminal: line by line, and a
 * failed command does not end the shell.
 */
function paste(text: string, cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const bash = spawn('bash', [], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    bash.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    bash.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => bash.kill('SIGKILL'), 60_000);
    bash.on('error', fail);
    bash.on('close', () => {
      clearTimeout(timer);
      done({ stdout, stderr });
    });
    bash.stdin.end(text);
  });
}

const pointedAt = (script: string, t: TestApp) =>
  script.replace(
    'http://localhost:8080',
    `http://127.0.0.1:${(t.app.getHttpServer() as { address(): { port: number } }).address().port}`,
  );

describe("the README's walk-through, pasted into bash", () => {
  let t: TestApp | undefined;
  const { script, blocks, expected } = walkThrough();
  let first = { stdout: '', stderr: '' };
  let second = { stdout: '', stderr: '' };

  beforeAll(async () => {
    t = await startApp('sqlite');
    const pasted = pointedAt(script, t).replace('cat data/admin.pat', `cat ${t.env.FIRST_INSTANCE_PAT_PATH}`);
    // pasted twice into one shell, as one does by mistake
    const marker = `echo '${SECOND_PASTE}'; echo '${SECOND_PASTE}' >&2`;
    const { stdout, stderr } = await paste(`${pasted}\n${marker}\n${pasted}\n`);
    const [out1, out2] = stdout.split(`${SECOND_PASTE}\n`);
    const [err1, err2] = stderr.split(`${SECOND_PASTE}\n`);
    first = { stdout: out1, stderr: err1 };
    second = { stdout: out2, stderr: err2 };
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  }, 30_000);

  it('answers what the README shows, code and all, without an error', () => {
    expect(first.stderr).toBe('');
    expectShownAnswers(first.stdout, expected);
  });

  it('stops each block at its first error when pasted again, and shows that error', () => {
    // the organization exists: 409 and its body, then nothing more of that block or the next
    expect(second.stdout).toBe('');
    const lines = second.stderr.split('\n').filter(Boolean);
    expect(lines[0]).toBe('curl: (22) The requested URL returned error: 409');
    expect(JSON.parse(lines[1])).toMatchObject({ code: 6, message: 'Organisation already exists (ORG-lapo2m)' });
    // every later block stops at its own first call: one status line and one body each
    expect(lines.filter((line) => line.startsWith('curl: (22)'))).toHaveLength(blocks);
  });
});

describe("the README's PostgreSQL section, then the walk-through", () => {
  const database = `pv_readme_${Date.now().toString(36)}`;
  const server = new URL(PG_URL);
  const base = `${server.protocol}//${server.username}:${server.password}@${server.host}`;
  const dir = mkdtempSync(join(tmpdir(), 'pv-readme-pg-'));
  let t: TestApp | undefined;

  afterAll(async () => {
    await t?.close();
    const client = new Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await client.end();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('creates the database, starts on it and reads its own token', async () => {
    const text = section('test/walk-through.e2e-spec.ts runs this block');
    const [block] = shellBlocks(text);
    const settings = `node -e 'const { DATABASE_URL, FIRST_INSTANCE_PAT_PATH } = process.env; console.log(JSON.stringify({ DATABASE_URL, FIRST_INSTANCE_PAT_PATH }))'`;
    const pasted = block
      .replace(/^PV_PG=\S+/m, `PV_PG=${base}`)
      .replace(/\bphone\b/g, database)
      .replace(/npm start$/m, settings);
    expect(pasted).not.toBe(block);
    const created = await paste(pasted, dir);
    expect(created.stderr).toBe('');
    const env = JSON.parse(created.stdout.trim().split('\n').pop()!) as Record<string, string>;
    expect(env.DATABASE_URL).toBe(`${base}/${database}`);
    // the README's DATABASE_URL takes the place of the SQLite file; the token file is the section's
    t = await startApp('sqlite', {
      DATABASE_URL: env.DATABASE_URL,
      FIRST_INSTANCE_PAT_PATH: resolve(dir, env.FIRST_INSTANCE_PAT_PATH),
    });

    const tokenLine = /`(PV_TOKEN=\$\(cat [^)`]+\))`/.exec(text);
    if (!tokenLine) throw new Error('the PostgreSQL section lost its PV_TOKEN line');
    const { script, expected } = walkThrough();
    const walked = await paste(pointedAt(script, t).replace('PV_TOKEN=$(cat data/admin.pat)', tokenLine[1]), dir);
    expect(walked.stderr).toBe('');
    expectShownAnswers(walked.stdout, expected);
  }, 120_000);
});
