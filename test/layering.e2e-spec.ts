import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

/** An import written in a file of the given path, and whether the layer rule lets it through. */
const CASES: Array<[file: string, source: string, allowed: boolean]> = [
  ['src/common/auth/x.ts', '../../phone/phone.module', false],
  ['src/common/auth/x.ts', '../../users/entities/user.entity', false],
  ['src/common/x.ts', '../users/users.repository', false],
  ['src/common/auth/x.ts', '../errors/errors', true],
  ['src/common/auth/x.ts', '../../database/sql', true],
  // a spec may use the features' real messages as fixtures
  ['src/common/validation/x.spec.ts', '../../users/dto/create-user.dto', true],
  ['src/phone/x.ts', '../users/access-policy', false],
  ['src/phone/x.ts', '../users/user-view', false],
  ['src/phone/dto/x.ts', '../../users/dto/common.dto', false],
  ['src/phone/outbox/x.ts', '../../users/entities/membership.entity', false],
  ['src/phone/x.ts', '../users/users.repository', true],
  ['src/phone/outbox/x.ts', '../../users/entities/user.entity', true],
  ['src/phone/x.ts', '../users/users-data.module', true],
  ['src/phone/x.ts', '../common/auth/access-policy', true],
  ['src/users/x.ts', '../phone/sms/sms-text', false],
  ['src/users/x.ts', '../phone/phone-codes.repository', false],
  ['src/users/x.ts', '../phone/phone-verification.service', true],
  ['src/users/dto/x.ts', '../../phone/dto/phone-requests.dto', true],
  ['src/database/x.ts', '../users/users.repository', false],
  ['src/database/x.ts', '../phone/outbox/sms-outbox.entity', true],
  // TypeORM and the drivers stay behind the database seam, in every folder and beside a layer rule
  ['src/phone/x.ts', 'typeorm', false],
  ['src/users/x.repository.ts', 'typeorm', false],
  ['src/common/metrics/x.ts', 'pg', false],
  ['src/common/events/x.ts', 'better-sqlite3', false],
  ['src/main.ts', 'typeorm/driver/postgres/PostgresDriver', false],
  ['src/phone/x.entity.ts', 'typeorm', true],
  ['src/common/errors/x.spec.ts', 'typeorm', true],
  ['src/database/x.adapter.ts', 'pg', true],
  ['src/database/migrations/x.ts', 'typeorm', true],
];

/**
 * Lints one snippet per case with the project's own eslint.config.mjs, in a plain Node process
 * (the config is an ES module, which jest's CommonJS sandbox cannot load), and returns, per case,
 * the messages of no-restricted-imports.
 */
function restrictedImportMessages(): string[][] {
  const script = `
    const { ESLint } = require('eslint');
    const cases = JSON.parse(process.argv[1]);
    (async () => {
      const eslint = new ESLint({ cwd: process.cwd() });
      const out = [];
      for (const [filePath, source] of cases) {
        const [result] = await eslint.lintText('import { x } from ' + JSON.stringify(source) + ';\\nexport { x };\\n', { filePath });
        out.push(result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message));
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((error) => { console.error(error); process.exit(2); });
  `;
  const stdout = execFileSync(process.execPath, ['-e', script, JSON.stringify(CASES)], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(stdout) as string[][];
}

/** The layer rules of `npm run lint` (docs/architecture.md, "Layers") refuse what they should, and only that. */
describe('layering lint rules', () => {
  let messages: string[][];

  beforeAll(() => {
    messages = restrictedImportMessages();
  }, 60_000);

  it.each(CASES.map((c, i) => [...c, i] as const))('%s importing %s: allowed %p', (_file, _source, allowed, i) => {
    if (allowed) {
      expect(messages[i]).toEqual([]);
    } else {
      expect(messages[i]).toHaveLength(1);
      expect(messages[i][0]).toContain('import is restricted from being used by a pattern');
    }
  });
});
