/** Beginnings only our settings' names have: a variable that starts so and is not one is a slip. */
const OUR_PREFIXES = [
  'SMS_',
  'DATABASE_',
  'OIDC_',
  'TWILIO_',
  'VONAGE_',
  'SNS_',
  'MESSAGEBIRD_',
  'PHONE_',
  'CODE_HMAC',
  'THROTTLE_',
  'METRICS_',
  'REDIS_',
  'TLS_',
  'FIRST_INSTANCE_',
];

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  // three rows of the table: the one before last, the last and this one
  let before = new Int32Array(b.length + 1);
  let last = Int32Array.from({ length: b.length + 1 }, (_, j) => j);
  let row = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(last[j] + 1, row[j - 1] + 1, last[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    [before, last, row] = [last, row, before];
  }
  return last[b.length];
}

/**
 * The variables of `env` that are no setting but look like one (`SMS_PROVDER`): one of our
 * prefixes, or at most two edits from a setting whose first word is at most one edit from its own
 * (so neither HOME nor SSL_CERT_FILE is taken for HOST or TLS_CERT_FILE). Each comes with the
 * setting it is closest to: first one with all its words (TWILIO_SID → TWILIO_ACCOUNT_SID), then
 * one of its prefix, then any. Names only: never a value.
 */
export function unknownSettings(
  env: Record<string, unknown>,
  known: readonly string[],
): { name: string; closest: string }[] {
  const names = new Set(known);
  const found: { name: string; closest: string }[] = [];
  for (const name of Object.keys(env)) {
    if (names.has(name) || !/^[A-Z][A-Z0-9_]*$/.test(name)) continue;
    const words = name.split('_');
    // two edits at most: a setting longer or shorter by more is no slip of this name
    const slip = known.some(
      (setting) =>
        Math.abs(setting.length - name.length) <= 2 &&
        editDistance(name, setting) <= 2 &&
        editDistance(words[0], setting.split('_')[0]) <= 1,
    );
    if (!slip && !OUR_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const distances = known.map((setting) => ({ setting, edits: editDistance(name, setting) }));
    const withWords = distances.filter(({ setting }) => words.every((word) => setting.split('_').includes(word)));
    const ofPrefix = distances.filter(({ setting }) => setting.startsWith(`${words[0]}_`));
    const candidates = [withWords, ofPrefix, distances].find((list) => list.length > 0)!;
    const { setting: closest } = candidates.reduce((best, next) => (next.edits < best.edits ? next : best));
    found.push({ name, closest });
  }
  return found;
}
