import { Initial1764093600000 } from './1764093600000-Initial';

/** Every migration, in order; listed explicitly so the build, the tests and the CLI agree. */
export const MIGRATIONS = [Initial1764093600000];
