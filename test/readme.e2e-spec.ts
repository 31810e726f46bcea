import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  const outsideCode = markdown.replace(/^```[\s\S]*?^```/gm, '');
  for (const [, heading] of outsideCode.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n ? `${base}-${n}` : base);
  }
  return anchors;
}

/** Relative links of a markdown file, outside code blocks: [text](target) and [text](target#anchor). */
function linksOf(file: string): Array<{ file: string; target: string; anchor?: string }> {
  const text = read(file).replace(/^```[\s\S]*?^```/gm, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((link) => !/^[a-z]+:/.test(link))
    .map((link) => {
      const [path, anchor] = link.split('#');
      const target = path ? relative(ROOT, resolve(dirname(join(ROOT, file)), path)) : file;
      return { file, target, anchor };
    });
}

/** The README and the pages beside it for users and operators (docs/adr and docs/performance.md link on their own). */
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('README', () => {
  const readme = read('README.md');

  it('gives the two quick-start commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });

  it('stays short: at most 350 lines, the rest in docs/', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(350);
  });

  it('links the pages that hold what it leaves out', () => {
    const targets = new Set(linksOf('README.md').map((link) => link.target));
    for (const page of [
      'docs/operations.md',
      'docs/configuration.md',
      'docs/sms-providers.md',
      'docs/architecture.md',
      'docs/performance.md',
      'docs/api.md',
      'CONTRIBUTING.md',
    ]) {
      expect({ page, linked: targets.has(page) }).toEqual({ page, linked: true });
    }
  });

  it('and the docs link only to files and headings that exist', () => {
    const broken = PAGES.flatMap(linksOf).filter(({ target, anchor }) => {
      if (!existsSync(join(ROOT, target))) return true;
      if (!anchor || !target.endsWith('.md')) return false;
      return !anchorsOf(read(target)).has(anchor);
    });
    expect(broken).toEqual([]);
  });
});
