/**
 * The timestamp of the newest migration of the last release (0.1.0): migrations after it must keep
 * a rolling upgrade safe (test/migration-rules.e2e-spec.ts). At each release, set it to the newest
 * migration's timestamp.
 */
export const LAST_RELEASED_MIGRATION = 1764540000000;
