import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * TypeORM and the drivers stay behind the database seam (src/database/sql.ts): repositories and
 * services use the seam; TypeORM defines the schema (entities), the migrations and start-up.
 * Specs may build the drivers' own errors and databases.
 */
const ORM = {
  regex: '^(typeorm|pg|pg-pool|better-sqlite3)(/.*)?$',
  message:
    'Only src/database/, entities and migrations use TypeORM or a driver: go through Database (src/database/sql.ts).',
};
const ORM_ALLOWED = ['src/database/**', 'src/**/*.entity.ts', 'src/**/*.spec.ts'];

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      'bench/results/',
      'examples/gen/',
      'test/openapi-client/',
      'scripts/',
      'eslint.config.mjs',
      'jest.config.js',
    ],
  },
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
    // src/main.ts, src/app.setup.ts and any folder without a layer rule below
    files: ['src/**/*.ts'],
    ignores: ORM_ALLOWED,
    rules: { 'no-restricted-imports': ['error', { patterns: [ORM] }] },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  // Layers (docs/architecture.md, "Layers"): arrows point down. test/layering.e2e-spec.ts checks
  // that these rules refuse what they should.
  ...layer('src/common', [...allExcept('users', []), ...allExcept('phone', [])], {
    // a spec may take the features' real request messages as its fixtures
    ignores: ['src/common/**/*.spec.ts'],
    message: 'src/common is below the features: it imports neither src/users nor src/phone.',
  }),
  ...layer('src/database', [...allExcept('users', ['**/*.entity']), ...allExcept('phone', ['**/*.entity'])], {
    message: "src/database knows the features' entities (the schema), nothing else of them.",
  }),
  ...layer('src/phone', allExcept('users', ['users.repository', 'users-data.module', 'entities/user.entity']), {
    message: 'src/phone sees users only through UsersRepository (UsersDataModule) and UserEntity.',
  }),
  ...layer('src/users', allExcept('phone', ['phone.module', 'phone-verification.service', 'dto/phone-requests.dto']), {
    message:
      'src/users uses phone only to verify the phone of a new user: PhoneModule, PhoneVerificationService and its DTO.',
  }),
);

/**
 * The files under `folder` may not import what `group` matches (no-restricted-imports, core
 * ESLint), nor TypeORM or a driver unless ORM_ALLOWED lets them. A later block for a file replaces
 * an earlier block's no-restricted-imports, so each file gets one block with all its patterns.
 */
function layer(folder, group, { ignores = [], message }) {
  const files = [`${folder}/**/*.ts`];
  const rule = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
  return [
    { files, ignores, rules: rule([{ group, message }]) },
    { files, ignores: [...ignores, ...ORM_ALLOWED], rules: rule([{ group, message }, ORM]) },
  ];
}

/**
 * Gitignore-style lines (matched against the import as written, "../users/users.repository")
 * for "any file under folder/ except these". The second line takes the folder's subfolders
 * back out: gitignore cannot let a file through once its parent folder is excluded.
 */
function allExcept(folder, allowed) {
  return [`**/${folder}/**`, `!**/${folder}/**/`, ...allowed.map((file) => `!**/${folder}/${file}`)];
}
