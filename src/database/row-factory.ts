/** Makes a row object out of a statement's result values, in column order. */
export type RowFactory = (values: unknown[]) => Record<string, unknown>;

/**
 * `(values) => ({ "id": values[0], "org_id": values[1], … })` for a statement's result columns,
 * used by both adapters. Drivers build row objects property by property through V8's slow paths
 * (better-sqlite3 in C++; node-postgres by spreading a dictionary-mode template): a map
 * transition and a string lookup per column and row, most of a 25-column read's time (measured,
 * docs/performance.md). An object literal of fixed keys is built by optimised code in one go; the
 * keys are the statement's own column names, quoted as JSON.
 */
export function rowFactory(columns: readonly string[]): RowFactory {
  // a literal "__proto__": … would set the prototype; a computed key defines the property
  const key = (name: string) => (name === '__proto__' ? `[${JSON.stringify(name)}]` : JSON.stringify(name));
  const fields = columns.map((name, i) => `${key(name)}: values[${i}]`).join(', ');
  return new Function('values', `return { ${fields} };`) as RowFactory;
}
