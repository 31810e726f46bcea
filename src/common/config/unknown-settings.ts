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
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
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
    const distances = known.map((setting) => ({ setting, edits: editDistance(name, setting) }));
    const slip = distances.some(
      ({ setting, edits }) => edits <= 2 && editDistance(words[0], setting.split('_')[0]) <= 1,
    );
    if (!slip && !OUR_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const withWords = distances.filter(({ setting }) => words.every((word) => setting.split('_').includes(word)));
    const ofPrefix = distances.filter(({ setting }) => setting.startsWith(`${words[0]}_`));
    const candidates = [withWords, ofPrefix, distances].find((list) => list.length > 0)!;
    const { setting: closest } = candidates.reduce((best, next) => (next.edits < best.edits ? next : best));
    found.push({ name, closest });
  }
  return found;
}
