import fc from 'fast-check';
import { canonicalCode, CodeAlphabet, entropyBits, generateCode } from './code-generator';

const ALPHABETS: Record<CodeAlphabet, string> = {
  digits: '0123456789',
  alphanumeric: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
};
const lengths = fc.integer({ min: 6, max: 20 });
const alphabets = fc.constantFrom<CodeAlphabet>('digits', 'alphanumeric');

/** Pearson's statistic of `counts` against a uniform distribution. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
}

/** How often each character of the alphabet is drawn, over `codes` codes of `length`. */
function histogram(alphabet: CodeAlphabet, length: number, codes: number, position?: number): number[] {
  const chars = ALPHABETS[alphabet];
  const counts = new Array<number>(chars.length).fill(0);
  for (let i = 0; i < codes; i++) {
    const code = generateCode(length, alphabet);
    for (const c of position === undefined ? code : code[position]) counts[chars.indexOf(c)] += 1;
  }
  return counts;
}

describe(generateCode.name, () => {
  it('draws a code of the asked length', () => {
    fc.assert(fc.property(lengths, alphabets, (length, alphabet) => generateCode(length, alphabet).length === length));
  });

  it('draws only characters of the asked alphabet', () => {
    fc.assert(
      fc.property(lengths, alphabets, (length, alphabet) =>
        [...generateCode(length, alphabet)].every((c) => ALPHABETS[alphabet].includes(c)),
      ),
    );
  });

  it('draws a code that is already in canonical form (what the user types back compares equal)', () => {
    fc.assert(
      fc.property(lengths, alphabets, (length, alphabet) => {
        const code = generateCode(length, alphabet);
        return canonicalCode(code, alphabet) === code;
      }),
    );
  });

  // thresholds at p = 1e-9 of the chi-square distribution: a fair generator fails once in a billion runs
  it('draws digits uniformly', () => {
    expect(chiSquare(histogram('digits', 6, 10_000))).toBeLessThan(60.7); // 9 degrees of freedom
  });

  it('draws alphanumeric characters uniformly', () => {
    expect(chiSquare(histogram('alphanumeric', 6, 10_000))).toBeLessThan(110.4); // 35 degrees of freedom
  });

  it('draws the last position like any other (no character left out, as a modulo shortcut can do)', () => {
    const last = histogram('alphanumeric', 6, 5_000, 5);
    expect(last.every((n) => n > 0)).toBe(true);
    expect(chiSquare(last)).toBeLessThan(110.4);
  });

  it('draws codes that do not repeat (a CSPRNG, not a seeded sequence)', () => {
    const codes = new Set(Array.from({ length: 1_000 }, () => generateCode(20, 'alphanumeric')));
    expect(codes.size).toBe(1_000);
  });
});

describe(canonicalCode.name, () => {
  it('trims white space around a digit code', () => {
    expect(canonicalCode(' 482913\n', 'digits')).toBe('482913');
  });

  it('upper-cases an alphanumeric code', () => {
    expect(canonicalCode('k7q2zd', 'alphanumeric')).toBe('K7Q2ZD');
  });

  it('leaves a digit code’s letters as typed', () => {
    expect(canonicalCode('48291a', 'digits')).toBe('48291a');
  });

  it('keeps white space inside a code (a different code)', () => {
    expect(canonicalCode('482 913', 'digits')).toBe('482 913');
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.string(), alphabets, (input, alphabet) => {
        const once = canonicalCode(input, alphabet);
        return canonicalCode(once, alphabet) === once;
      }),
    );
  });
});

describe(entropyBits.name, () => {
  it('gives 6 digits just under 20 bits', () => {
    expect(entropyBits(6, 'digits')).toBeCloseTo(19.93, 2);
  });

  it('gives 6 alphanumeric characters about 31 bits', () => {
    expect(entropyBits(6, 'alphanumeric')).toBeCloseTo(31.02, 2);
  });

  it('grows linearly with the length', () => {
    fc.assert(
      fc.property(
        lengths,
        alphabets,
        (length, alphabet) => Math.abs(entropyBits(length, alphabet) - length * entropyBits(1, alphabet)) < 1e-9,
      ),
    );
  });
});
