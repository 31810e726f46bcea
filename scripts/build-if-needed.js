// `npm start` builds first when dist/ is missing or older than the sources, so a fresh clone just runs.
// An installed copy without src/ (the container image, docs/deploy.md) runs the dist/ it was given.
const { execSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const entry = join(root, 'dist/src/main.js');
const sources = join(root, 'src');

/** The newest modification time under `path` (a file or a folder); 0 when it does not exist. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entryName of readdirSync(path)) latest = Math.max(latest, newest(join(path, entryName)));
  return latest;
}

function stale() {
  if (!existsSync(entry)) return true;
  const inputs = [sources, join(root, 'proto'), join(root, 'package-lock.json')];
  return statSync(entry).mtimeMs < Math.max(...inputs.map(newest));
}

if (!existsSync(sources)) {
  if (!existsSync(entry)) {
    process.stderr.write(`cannot start: ${entry} is missing and there is no src/ to build it from (copy dist/ too)\n`);
    process.exit(1);
  }
} else if (stale()) {
  process.stdout.write('building (dist/ is missing or stale)…\n');
  execSync('npx nest build', { cwd: root, stdio: 'inherit' });
}
