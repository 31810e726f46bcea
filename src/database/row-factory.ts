/** Makes a row object out of a statement's result values, in column order. */
export type RowFactory = (values: unknown[]) => Record<string, unknown>;

/**
 * `(values) => ({ "id": values[0], … })` for a statement's columns: a literal of fixed keys is
 * built in one go, where drivers build rows key by key on V8's slow paths (docs/performance.md).
 */
export function rowFactory(columns: readonly string[]): RowFactory {
  // a literal "__proto__": … would set the prototype; a computed key defines the property
  const key = (name: string) => (name === '__proto__' ? `[${JSON.stringify(name)}]` : JSON.stringify(name));
  const fields = columns.map((name, i) => `${key(name)}: values[${i}]`).join(', ');
  return new Function('values', `return { ${fields} };`) as RowFactory;
}
