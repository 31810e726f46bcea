import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentVariables } from '../src/common/config/env.schema';

/** The README must stay true: its configuration table names every setting the service reads, and no other. */
describe('README', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Running on PostgreSQL'));
  const documented = [...table.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]).sort();
  const settings = Object.keys(new EnvironmentVariables()).sort();

  it('documents every setting in the configuration table', () => {
    expect(documented).toEqual(settings);
  });

  it('gives the two quick-start commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
