#!/usr/bin/env node
// `npm run fuzz -- --seed N --runs K [jest options]`: the fuzz suites of test/fuzz, long and from a
// seed of your choice (FUZZ_SEED / FUZZ_RUNS); `npm test` runs them short with a fixed seed.
const { spawnSync } = require('node:child_process');

const args = process.argv.slice(2);
const env = { ...process.env };
const rest = [];
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split('=', 2);
  if (flag === '--seed' || flag === '--runs') {
    const value = inline ?? args[++i];
    if (!/^\d+$/.test(value ?? '')) {
      process.stderr.write(`${flag} needs a whole number\n`);
      process.exit(2);
    }
    env[flag === '--seed' ? 'FUZZ_SEED' : 'FUZZ_RUNS'] = value;
  } else rest.push(args[i]);
}
env.FUZZ_SEED ??= String(Date.now() % 2 ** 31);
env.FUZZ_RUNS ??= '1000';
process.stdout.write(`fuzz: FUZZ_SEED=${env.FUZZ_SEED} FUZZ_RUNS=${env.FUZZ_RUNS}\n`);
const jest = require.resolve('jest/bin/jest');
const result = spawnSync(process.execPath, [jest, '--runInBand', '--testPathPatterns', 'test/fuzz/', ...rest], {
  env,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
