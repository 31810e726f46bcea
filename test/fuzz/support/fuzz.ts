import fc from 'fast-check';

/**
 * How long and from where the fuzz suites run: `npm test` runs a short, fixed-seed pass (the same
 * inputs on every machine); `npm run fuzz -- --seed N --runs K` sets FUZZ_SEED / FUZZ_RUNS.
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 1201);
/** runs per property; the short pass keeps the whole fuzz part within about two minutes */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;
/** the long run's hooks and tests scale with its runs */
export const FUZZ_TIMEOUT = 120_000 + (FUZZ_RUNS ?? 0) * 500;

/**
 * fc.assert's run with the suite's seed; a failure names the seed, fast-check's replay path, the
 * shrunk input (long strings abbreviated) and how to run that seed again.
 */
export async function fuzz<T>(property: fc.IAsyncPropertyWithHooks<T>, defaultRuns: number): Promise<void> {
  const numRuns = FUZZ_RUNS ?? defaultRuns;
  // the run and its shrinking stop in time for the test's timeout (a call that hangs costs ANSWER_MS
  // each time the shrinker tries it); what was found by then is reported
  const details = await fc.check(property, {
    seed: FUZZ_SEED,
    numRuns,
    interruptAfterTimeLimit: FUZZ_TIMEOUT - 30_000,
  });
  if (!details.failed) return;
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    [
      `fuzz: seed ${details.seed}, path "${details.counterexamplePath}", after ${details.numRuns} runs and ${details.numShrinks} shrinks` +
        ` (again: npm run fuzz -- --seed ${details.seed} --runs ${numRuns})`,
      `input: ${abbreviate(details.counterexample)}`,
      `error: ${error}`,
    ].join('\n'),
  );
}

/** JSON of the input, a long run of one character written as its count, long strings cut, bytes as latin1 text. */
function abbreviate(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'function') return `[function ${v.name}]`;
    if (typeof v === 'bigint') return `${v}n`;
    const bytes = v as { type?: unknown; data?: unknown } | null;
    if (bytes?.type === 'Buffer' && Array.isArray(bytes.data))
      v = `bytes: ${Buffer.from(bytes.data).toString('latin1')}`;
    if (typeof v !== 'string' || v.length <= 200) return v;
    const run = /^(.)\1*$/su.exec(v);
    return run ? `${JSON.stringify(run[1])} × ${[...v].length}` : `${v.slice(0, 200)}… (${v.length} chars)`;
  });
}

// ---- strings -------------------------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const control = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));
const special = fc.constantFrom(
  '\u0000',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u200b', // zero width space
  '\u200f', // right-to-left mark
  '\u202e', // right-to-left override
  '\u2028',
  '\u0301', // combining acute
  '\u0665', // Arabic-Indic digit five
  '\ufeff',
  '\ufffd',
  '\uffff',
  '👨‍👩‍👧‍👦',
  '🇨🇭',
  'שלום',
  'ǅ',
  '%00',
  '%',
  '../',
  '\\',
  '"',
  "'",
  '${x}',
  '{{x}}',
  '<script>',
  'null',
  '-1',
  '1e309',
  '0x10',
  '+41791234567',
  '123456',
);
const piece = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
  { weight: 2, arbitrary: special },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 1, arbitrary: control },
);
const huge = fc
  .tuple(fc.constantFrom('x', 'é', '9', '\u0000', '🙂', '\u0301', '\ud800'), fc.integer({ min: 300, max: 70_000 }))
  .map(([c, n]) => c.repeat(Math.ceil(n / c.length)));

/** Text an attacker would send: control characters, NUL, lone surrogates, RTL, combining marks, emoji, huge. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.array(piece, { maxLength: 6 }).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: huge },
);

/** Ids as a path or a field carries them: real ones, near misses, hostile text. */
export function idArb(known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom('0', '-1', '01', '1.5', ' 1', '1 ', '9'.repeat(201), '', '%00', '1%002') },
    { weight: 2, arbitrary: hostileString },
  );
}

// ---- JSON ----------------------------------------------------------------------------------------

/** A JSON value as written text; objects are entry lists, so keys may repeat or be __proto__. */
export type Json = null | boolean | number | string | Json[] | { entries: Array<[string, Json]> };

export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

export function jsonText(value: Json): string {
  if (value === null || typeof value !== 'object') {
    // JSON has no NaN or Infinity; the generator gives numbers that write as numbers
    return typeof value === 'number' && !Number.isFinite(value) ? '1e999' : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
}

const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 53 + 1, -0, 1e308, 5e-324),
  hostileString,
);

export function keyArb(fields: string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    ...(fields.length ? [{ weight: 3, arbitrary: fc.constantFrom(...fields) }] : []),
    { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
    { weight: 1, arbitrary: hostileString },
  );
}

/** Any JSON value, with prototype keys and the given field names among the keys. */
export function jsonArb(fields: string[] = []): fc.Arbitrary<Json> {
  const { value } = fc.letrec<{ value: Json; object: Json }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      tie('object'),
    ),
    object: fc.array(fc.tuple(keyArb(fields), tie('value')), { maxLength: 4 }).map((entries) => ({ entries }) as Json),
  }));
  return value;
}

/** Deeply nested arrays or objects (the depth a JSON parser allows but a transform may not). */
export const deepJson = fc
  .tuple(fc.integer({ min: 50, max: 6000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth));

/**
 * A valid request mutated: some of its fields (at any depth) replaced by other values, removed, or
 * joined by extra keys. Shrinks towards the valid request.
 */
export function mutatedJson(template: Json, fields: string[]): fc.Arbitrary<Json> {
  const paths = objectPaths(template);
  const change = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.nat(), jsonArb(fields)).map(([i, v]) => ({ kind: 'set' as const, i, v })) },
    { weight: 1, arbitrary: fc.nat().map((i) => ({ kind: 'delete' as const, i })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.nat(), keyArb(fields), jsonArb(fields))
        .map(([i, k, v]) => ({ kind: 'add' as const, i, k, v })),
    },
  );
  return fc.array(change, { maxLength: 3 }).map((changes) => {
    const result = clone(template);
    for (const c of changes) {
      if (paths.length === 0) break;
      const [parentPath, key] = paths[c.i % paths.length];
      const parent = at(result, parentPath);
      if (!parent) continue;
      if (c.kind === 'set') parent.entries = parent.entries.map(([k, v]) => [k, k === key ? c.v : v]);
      if (c.kind === 'delete') parent.entries = parent.entries.filter(([k]) => k !== key);
      if (c.kind === 'add') parent.entries.push([c.k, c.v]);
    }
    return result;
  });
}

/** From a plain object (the valid request) to Json. */
export function toJson(value: unknown): Json {
  if (value === null || typeof value !== 'object') return value as Json;
  if (Array.isArray(value)) return value.map(toJson);
  return { entries: Object.entries(value).map(([k, v]) => [k, toJson(v)]) };
}

function clone(value: Json): Json {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(clone);
  return { entries: value.entries.map(([k, v]) => [k, clone(v)]) };
}

/** [path of the object, key] for every key of every object in the template */
function objectPaths(value: Json, path: string[] = []): Array<[string[], string]> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return value.entries.flatMap(([k, v]) => [[path, k] as [string[], string], ...objectPaths(v, [...path, k])]);
}

function at(value: Json, path: string[]): { entries: Array<[string, Json]> } | undefined {
  let node: Json | undefined = value;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node.entries.find(([k]) => k === key)?.[1];
  }
  return node !== null && typeof node === 'object' && !Array.isArray(node) ? node : undefined;
}

/** Header values an HTTP client can send (tab, visible ASCII, bytes 0x80–0xFF as latin1). */
export const headerValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc
    .array(fc.oneof(fc.constant(0x09), fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })), {
      maxLength: 12,
    })
    .map((codes) => String.fromCharCode(...codes)),
  fc.constantFrom('a\tb', 'Bearer\tx', 'é', '\u00ff', ' ', '', 'x'.repeat(9000)),
);
