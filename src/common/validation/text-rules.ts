// eslint-disable-next-line no-control-regex -- NUL is what this looks for
const SUSPECT = /[\u0000\ud800-\udfff]/;
const UNPAIRED = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The one rule for text on every transport: no U+0000 (PostgreSQL refuses it in text while SQLite
 * stores it) and no unpaired surrogate (not Unicode: stored as U+FFFD, or refused by the e-mail
 * check). Returns what is wrong, or undefined.
 */
export function textProblem(text: string): string | undefined {
  if (!SUSPECT.test(text)) return undefined;
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (UNPAIRED.test(text)) return 'must be valid Unicode text (it holds an unpaired surrogate)';
  return undefined;
}
