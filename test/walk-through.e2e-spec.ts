import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startApp, TestApp } from './support/test-app';

const run = promisify(execFile);
const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

/** The shell blocks after a "tested" marker naming this file, up to the next section of the same level. */
function walkThrough(): { script: string; expected: string[] } {
  const marker = README.indexOf('<!-- tested: test/walk-through.e2e-spec.ts runs these blocks -->');
  if (marker < 0) throw new Error('the README lost its walk-through marker');
  const section = README.slice(marker, README.indexOf('\n## ', marker));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const lines = blocks.join('\n').split('\n');
  // the shown answers: comment lines right after a command, that are JSON or "true"
  const expected = lines.filter((line) => /^# ({.*}|true)$/.test(line)).map((line) => line.slice(2));
  return { script: blocks.join('\n'), expected };
}

/** "…" in a shown answer stands for an id or date of one's own. */
function matches(shown: string, actual: string): boolean {
  const pattern = shown
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^"]*');
  return new RegExp(`^${pattern}$`).test(actual);
}

describe("the README's walk-through, pasted into bash", () => {
  let t: TestApp | undefined;

  beforeAll(async () => {
    t = await startApp('sqlite');
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  }, 30_000);

  it('answers what the README shows, code and all', async () => {
    const { script, expected } = walkThrough();
    const address = t!.app.getHttpServer().address() as { port: number };
    const pasted = script
      .replace('cat data/admin.pat', `cat ${t!.env.FIRST_INSTANCE_PAT_PATH}`)
      .replace('http://localhost:8080', `http://127.0.0.1:${address.port}`);
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', pasted], { timeout: 60_000 });
    const answers = stdout.split('\n').filter(Boolean);
    // every shown answer, in order; the code echoed in between is six digits
    expect(answers).toHaveLength(expected.length + 1);
    expect(answers[1]).toMatch(/^\d{6}$/);
    const shownAnswers = [answers[0], ...answers.slice(2)];
    shownAnswers.forEach((answer, i) =>
      expect({ answer, ok: matches(expected[i], answer) }).toEqual({ answer, ok: true }),
    );
  }, 120_000);
});
