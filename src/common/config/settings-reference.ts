import { CatalogueEntry, settingsCatalogue } from './settings-reader';
import { groupOf, SettingsClass } from './setting';

/** The two files written from the groups (`npm run config:docs`); a spec fails when they differ. */
export const REFERENCE_FILES = { docs: 'docs/configuration.md', example: '.env.example' } as const;

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

/** 600000 → "10m", as a duration setting is written. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const [unit, size] = UNITS.find(([, size]) => ms % size === 0)!;
  return `${ms / size}${unit}`;
}

/** The default as a value to write after `NAME=`, or undefined when it is none or computed. */
function literalDefault(entry: CatalogueEntry): string | undefined {
  if (entry.defaultLabel !== undefined || entry.value === undefined) return undefined;
  return entry.duration ? formatDuration(entry.value as number) : String(entry.value);
}

function defaultCell(entry: CatalogueEntry): string {
  const literal = literalDefault(entry);
  return literal !== undefined ? `\`${literal}\`` : (entry.defaultLabel ?? '–');
}

const cell = (text: string) => text.replace(/\|/g, '\\|');
/** A validator's words, which are not markdown: `*`, `_`, `<` and brackets stay as written. */
const plain = (text: string) => text.replace(/[*_<[\]]/g, (c) => `\\${c}`);

function sections(root: SettingsClass): { title: string; intro?: string; entries: CatalogueEntry[] }[] {
  const catalogue = settingsCatalogue(root);
  const titles = [...new Set(catalogue.map((entry) => entry.group))];
  const intros = new Map<string, string | undefined>();
  const walk = (cls: SettingsClass) => {
    const { title, intro, children } = groupOf(cls);
    intros.set(title, intro);
    for (const child of children) walk(child.type);
  };
  walk(root);
  return titles.map((title) => ({
    title,
    intro: intros.get(title),
    entries: catalogue.filter((entry) => entry.group === title),
  }));
}

/** docs/configuration.md: one table per group. */
export function configurationReference(root: SettingsClass): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Written by `npm run config:docs` from the settings groups (src/**/*.settings.ts): edit those, not this file. -->',
    '',
    'Every setting is an environment variable, read and checked at start-up: a bad value stops the',
    'service with one `fatal` line naming the variable and what it accepts. Durations accept `500ms`,',
    '`30s`, `10m`, `1h`, `7d` or plain seconds. The service also reads `.env` (or the file `ENV_FILE`',
    'names); a variable set in the environment wins over the file. [`.env.example`](../.env.example)',
    'lists every setting with its default, commented out. A variable that is not a setting but looks',
    'like one (`SMS_PROVDER`) is named in a warning at start. Tracing reads the standard `OTEL_*`',
    'variables ([operations](operations.md)).',
  ];
  for (const { title, intro, entries } of sections(root)) {
    lines.push('', `## ${title}`, '');
    if (intro) lines.push(intro, '');
    lines.push('| variable | default | accepts | meaning |', '|---|---|---|---|');
    for (const entry of entries) {
      lines.push(
        `| \`${entry.env}\` | ${cell(defaultCell(entry))} | ${cell(plain(entry.accepts))} | ${cell(entry.description)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** .env.example: every setting with its default, commented out, group by group. */
export function envExample(root: SettingsClass): string {
  const blocks = [
    [
      '# Settings of phone-verify. Copy this file to .env (read at start; ENV_FILE names another file)',
      '# and uncomment what you change. A variable set in the environment wins over the file.',
      '# Durations accept 500ms, 30s, 10m, 1h or plain seconds. docs/configuration.md describes each',
      '# setting; both files are written by `npm run config:docs` from the settings groups.',
    ].join('\n'),
  ];
  for (const { title, entries } of sections(root)) {
    blocks.push(`# --- ${title} ---`);
    for (const entry of entries) {
      const literal = literalDefault(entry);
      blocks.push(
        literal !== undefined
          ? `# ${entry.description}\n#${entry.env}=${literal}`
          : `# ${entry.description} (default: ${entry.defaultLabel ?? 'none'})\n#${entry.env}=`,
      );
    }
  }
  return `${blocks.join('\n\n')}\n`;
}
