import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { EnvironmentVariables, validateEnvironment } from '../src/common/config/env.schema';

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

  describe('.env.example', () => {
    const example = readFileSync(join(__dirname, '..', '.env.example'), 'utf8');
    const marker = '# --- every setting, with its default ---\n\n';

    it('lists the rows of the table in order: the meaning, then the setting with its default, commented out', () => {
      const rows = [...table.matchAll(/^\| `([A-Z0-9_]+)` \| (.*?) \| (.*) \|$/gm)];
      const blocks = rows.map(([, name, byDefault, meaning]) => {
        const literal = /^`([^`]*)`$/.exec(byDefault);
        return literal ? `# ${meaning}\n#${name}=${literal[1]}` : `# ${meaning} (default: ${byDefault})\n#${name}=`;
      });
      expect(example).toContain(marker);
      expect(example.slice(example.indexOf(marker) + marker.length)).toBe(`${blocks.join('\n\n')}\n`);
    });

    it('sets nothing as shipped, and its defaults are the service’s own once uncommented', () => {
      expect(parseEnv(example)).toEqual({});
      const uncommented = parseEnv(example.replace(/^#([A-Z0-9_]+=.+)$/gm, '$1'));
      expect(Object.keys(uncommented).length).toBeGreaterThan(30);
      expect({ ...validateEnvironment(uncommented) }).toEqual({ ...validateEnvironment({}) });
    });
  });
});
