/**
 * The migration rules that keep a rolling upgrade safe (docs/rolling-upgrades.md): while the new
 * release's migration runs and its instances start, the last release's instances keep serving
 * from the same tables. So a migration newer than the last release only adds: it
 * neither removes nor renames what they read, nor changes a column's type, nor makes them wait
 * behind a lock for as long as a table takes to scan or rewrite.
 *
 * The checker reads the statements a migration runs on PostgreSQL (each `query()` call's text,
 * TypeORM's own for its Table API). A statement on a table that an unreleased migration created is
 * never a finding: no running instance uses that table. A finding is excused by a marker comment
 * that says why it is safe: `-- rolling-upgrade: <reason>` (or `/* … *\/`) in the call's SQL
 * excuses that call, `// rolling-upgrade: <reason>` on a line of the migration's file the whole
 * migration.
 */

export type Rule =
  | 'drop'
  | 'rename'
  | 'type change'
  | 'set not null'
  | 'not null without default'
  | 'index without concurrently'
  | 'validated constraint';

export const RULES: Record<Rule, string> = {
  drop: 'drops what the running release reads: drop it a release after the last one that uses it',
  rename: 'renames what the running release reads: add the new name, drop the old one a release later',
  'type change': 'changes a column type: a rewrite under an exclusive lock, and refused cached statements',
  'set not null': 'SET NOT NULL scans the table under an exclusive lock, and the running release may write NULL',
  'not null without default': 'a NOT NULL column without a default: the running release inserts rows without it',
  'index without concurrently': 'CREATE INDEX without CONCURRENTLY blocks every write to the table while it builds',
  'validated constraint':
    'a constraint checked against every row holds a lock meanwhile: NOT VALID, then VALIDATE CONSTRAINT',
};

/** One migration as the checker reads it. */
export interface MigrationText {
  name: string;
  timestamp: number;
  /** the migration's file (for a marker covering the whole migration) */
  source: string;
  /** the SQL of each `query()` call it made, in order */
  statements: string[];
}

export interface Finding {
  migration: string;
  rule: Rule;
  statement: string;
  /** the marker's reason, when one excuses the finding */
  excusedBy?: string;
}

const MARKER = /rolling-upgrade:[ \t]*(\S[^\n]*?)[ \t]*(?:\*\/|$)/m;
/** `// rolling-upgrade: <reason>` or a doc comment's ` * rolling-upgrade: <reason>` line. */
const FILE_MARKER = /^[ \t]*(?:\/\/|\*)[ \t]*rolling-upgrade:[ \t]*(\S.*?)[ \t]*$/m;

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
const NAME = String.raw`${IDENT}(?:\s*\.\s*${IDENT})*`;

/** A table's name as PostgreSQL keeps it: the last part, unquoted, or folded to lower case. */
function tableName(qualified: string): string {
  const last = new RegExp(`(${IDENT})$`).exec(qualified.trim())![1];
  return last.startsWith('"') ? last.slice(1, -1).replace(/""/g, '"') : last.toLowerCase();
}

/**
 * A `query()` call's SQL as statements: comments out, literals emptied (so that text in them is
 * not read as SQL), split at `;`. The comments' text is returned for the marker.
 */
export function splitSql(sql: string): { statements: string[]; comments: string } {
  const statements: string[] = [];
  let comments = '';
  let current = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const token =
      /^--[^\n]*/.exec(rest) ??
      /^\/\*[\s\S]*?(?:\*\/|$)/.exec(rest) ??
      /^'(?:[^']|'')*'?/.exec(rest) ??
      /^(\$[A-Za-z_]*\$)[\s\S]*?(?:\1|$)/.exec(rest) ??
      /^"(?:[^"]|"")*"?/.exec(rest);
    if (token) {
      const text = token[0];
      if (text.startsWith('--') || text.startsWith('/*')) {
        comments += `${text}\n`;
        current += ' ';
      } else if (text.startsWith("'") || text.startsWith('$')) {
        current += "''";
      } else {
        current += text;
      }
      i += text.length;
    } else if (sql[i] === ';') {
      statements.push(current);
      current = '';
      i++;
    } else {
      current += sql[i++];
    }
  }
  statements.push(current);
  return { statements: statements.map((s) => s.replace(/\s+/g, ' ').trim()).filter(Boolean), comments };
}

/** An ALTER TABLE's actions, split at the commas outside parentheses and quotes. */
function actionsOf(text: string): string[] {
  const actions: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && char === '(') depth++;
    else if (!quoted && char === ')') depth--;
    if (char === ',' && depth === 0 && !quoted) {
      actions.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  actions.push(current.trim());
  return actions;
}

const re = (source: string) => new RegExp(source, 'i');
const CREATE_TABLE = re(
  String.raw`^CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(${NAME})`,
);
const DROP_TABLE = re(String.raw`^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(${NAME}(?:\s*,\s*${NAME})*)`);
const CREATE_INDEX = re(
  String.raw`^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:${NAME}\s+)?ON\s+(?:ONLY\s+)?(${NAME})`,
);
const ALTER_TABLE = re(String.raw`^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(${NAME})\s+([\s\S]*)$`);
const RENAME_TABLE = re(String.raw`^RENAME\s+TO\s+(${NAME})$`);
const RENAME_COLUMN = re(String.raw`^RENAME\s+(?!CONSTRAINT\b)`);
const DROP_COLUMN = re(String.raw`^DROP\s+(?!CONSTRAINT\b)`);
const ALTER_TYPE = re(String.raw`^ALTER\s+(?:COLUMN\s+)?${IDENT}\s+(?:SET\s+DATA\s+)?TYPE\b`);
const SET_NOT_NULL = re(String.raw`^ALTER\s+(?:COLUMN\s+)?${IDENT}\s+SET\s+NOT\s+NULL\b`);
const ADD_CONSTRAINT = re(
  String.raw`^ADD\s+(?:CONSTRAINT\s+${IDENT}\s+)?(?:UNIQUE|PRIMARY\s+KEY|FOREIGN\s+KEY|CHECK|EXCLUDE)\b`,
);
const ADD_COLUMN = re(String.raw`^ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?${IDENT}\s+`);

/** The rules a statement breaks; `created` holds the tables of unreleased migrations, and grows. */
function rulesBroken(statement: string, created: Set<string>): Rule[] {
  const existing = (name: string) => !created.has(tableName(name));
  let match = CREATE_TABLE.exec(statement);
  if (match) {
    created.add(tableName(match[1]));
    return [];
  }
  match = DROP_TABLE.exec(statement);
  if (match) return match[1].split(',').some(existing) ? ['drop'] : [];
  match = CREATE_INDEX.exec(statement);
  if (match) return !match[1] && existing(match[2]) ? ['index without concurrently'] : [];
  match = ALTER_TABLE.exec(statement);
  if (!match) return [];
  const table = match[1];
  const rules: Rule[] = [];
  for (const action of actionsOf(match[2])) {
    const renamed = RENAME_TABLE.exec(action);
    if (renamed && !existing(table)) created.add(tableName(renamed[1]));
    if (!existing(table)) continue;
    if (RENAME_COLUMN.test(action)) rules.push('rename');
    else if (DROP_COLUMN.test(action)) rules.push('drop');
    else if (ALTER_TYPE.test(action)) rules.push('type change');
    else if (SET_NOT_NULL.test(action)) rules.push('set not null');
    else if (ADD_CONSTRAINT.test(action)) {
      if (!/\bNOT\s+VALID\b|\bUSING\s+INDEX\b/i.test(action)) rules.push('validated constraint');
    } else if (ADD_COLUMN.test(action) && /\bNOT\s+NULL\b/i.test(action) && !/\bDEFAULT\b/i.test(action)) {
      rules.push('not null without default');
    }
  }
  return rules;
}

/** The findings of the migrations newer than `lastReleased`, given in the order they run. */
export function checkMigrations(migrations: MigrationText[], lastReleased: number): Finding[] {
  const created = new Set<string>();
  const findings: Finding[] = [];
  for (const migration of migrations) {
    if (migration.timestamp <= lastReleased) continue;
    const wholeMigration = FILE_MARKER.exec(migration.source)?.[1];
    for (const sql of migration.statements) {
      const { statements, comments } = splitSql(sql);
      const excusedBy = MARKER.exec(comments)?.[1] ?? wholeMigration;
      for (const statement of statements) {
        for (const rule of rulesBroken(statement, created)) {
          findings.push({ migration: migration.name, rule, statement, ...(excusedBy ? { excusedBy } : {}) });
        }
      }
    }
  }
  return findings;
}
