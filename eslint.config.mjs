import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/', 'examples/gen/', 'test/openapi-client/', 'scripts/', 'eslint.config.mjs', 'jest.config.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // TypeORM and the drivers stay behind the database seam (src/database/sql.ts): repositories and
    // services use the seam; TypeORM defines the schema (entities), the migrations and start-up.
    // Specs may build the drivers' own errors and databases.
    files: ['src/**/*.ts'],
    ignores: ['src/database/**', 'src/**/*.entity.ts', 'src/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(typeorm|pg|pg-pool|better-sqlite3)(/.*)?$',
              message:
                'Only src/database/, entities and migrations use TypeORM or a driver: go through Database (src/database/sql.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
