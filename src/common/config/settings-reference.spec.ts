import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { AppConfig, validateEnvironment } from '../../app.config';
import { settingsCatalogue, valuesByVariable } from './settings-reader';
import { configurationReference, envExample, formatDuration, REFERENCE_FILES } from './settings-reference';

const ROOT = join(__dirname, '..', '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const REWRITE = 'out of date: run `npm run config:docs` and commit what it writes';

describe('settings reference', () => {
  it(`${REFERENCE_FILES.docs} is what the settings groups say (else ${REWRITE})`, () => {
    expect({ [REFERENCE_FILES.docs]: read(REFERENCE_FILES.docs) }).toEqual({
      [REFERENCE_FILES.docs]: configurationReference(AppConfig),
    });
  });

  it(`${REFERENCE_FILES.example} is what the settings groups say (else ${REWRITE})`, () => {
    expect({ [REFERENCE_FILES.example]: read(REFERENCE_FILES.example) }).toEqual({
      [REFERENCE_FILES.example]: envExample(AppConfig),
    });
  });

  it('names every setting once, each with a description', () => {
    const catalogue = settingsCatalogue(AppConfig);
    const names = catalogue.map((entry) => entry.env);
    expect(names.length).toBeGreaterThan(100);
    expect(new Set(names).size).toBe(names.length);
    expect(catalogue.filter((entry) => entry.description.trim() === '')).toEqual([]);
  });

  it('sets nothing as shipped, and its defaults are the service’s own once uncommented', () => {
    const example = envExample(AppConfig);
    expect(parseEnv(example)).toEqual({});
    const uncommented = parseEnv(example.replace(/^#([A-Z0-9_]+=.+)$/gm, '$1'));
    expect(Object.keys(uncommented).length).toBeGreaterThan(60);
    expect(valuesByVariable(validateEnvironment(uncommented))).toEqual(valuesByVariable(validateEnvironment({})));
  });

  it.each([
    [0, '0s'],
    [500, '500ms'],
    [65_000, '65s'],
    [600_000, '10m'],
    [86_400_000, '1d'],
  ])('writes %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
