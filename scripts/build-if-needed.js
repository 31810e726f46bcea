// `npm start` builds first when dist/ is missing or older than the sources, so a fresh clone just runs.
const { execSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const entry = join(root, 'dist/src/main.js');

function newest(dir) {
  let latest = 0;
  for (const entryName of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entryName.name);
    latest = Math.max(latest, entryName.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const stale =
  !existsSync(entry) ||
  statSync(entry).mtimeMs < Math.max(newest(join(root, 'src')), newest(join(root, 'proto')), statSync(join(root, 'package-lock.json')).mtimeMs);
if (stale) {
  process.stdout.write('building (dist/ is missing or stale)…\n');
  execSync('npx nest build', { cwd: root, stdio: 'inherit' });
}
