import { randomInt } from 'node:crypto';

const ALPHABETS = {
  digits: '0123456789',
  alphanumeric: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
} as const;

export type CodeAlphabet = keyof typeof ALPHABETS;

/** A code from the CSPRNG: every character drawn uniformly (randomInt rejects biased draws). */
export function generateCode(length: number, alphabet: CodeAlphabet): string {
  const chars = ALPHABETS[alphabet];
  let code = '';
  for (let i = 0; i < length; i++) code += chars[randomInt(chars.length)];
  return code;
}

/** What the user types is compared in the alphabet's canonical form (alphanumeric codes are upper-case). */
export function canonicalCode(input: string, alphabet: CodeAlphabet): string {
  const trimmed = input.trim();
  return alphabet === 'alphanumeric' ? trimmed.toUpperCase() : trimmed;
}

export function entropyBits(length: number, alphabet: CodeAlphabet): number {
  return length * Math.log2(ALPHABETS[alphabet].length);
}
