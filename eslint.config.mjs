import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

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
    files: ['test/**/*.ts', '**/*.spec.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  // Layers (docs/architecture.md, "Layers"): arrows point down. test/layering.e2e-spec.ts checks
  // that these rules refuse what they should.
  layer('src/common', [...allExcept('users', []), ...allExcept('phone', [])], {
    // a spec may take the features' real request messages as its fixtures
    ignores: ['src/common/**/*.spec.ts'],
    message: 'src/common is below the features: it imports neither src/users nor src/phone.',
  }),
  layer('src/database', [...allExcept('users', ['**/*.entity']), ...allExcept('phone', ['**/*.entity'])], {
    message: "src/database knows the features' entities (the schema), nothing else of them.",
  }),
  layer('src/phone', allExcept('users', ['users.repository', 'users-data.module', 'entities/user.entity']), {
    message: 'src/phone sees users only through UsersRepository (UsersDataModule) and UserEntity.',
  }),
  layer('src/users', allExcept('phone', ['phone.module', 'phone-verification.service', 'dto/phone-requests.dto']), {
    message:
      'src/users uses phone only to verify the phone of a new user: PhoneModule, PhoneVerificationService and its DTO.',
  }),
);

/** The files under `folder` may not import what `group` matches (no-restricted-imports, core ESLint). */
function layer(folder, group, { ignores = [], message }) {
  return {
    files: [`${folder}/**/*.ts`],
    ignores,
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group, message }] }] },
  };
}

/**
 * Gitignore-style lines (matched against the import as written, "../users/users.repository")
 * for "any file under folder/ except these". The second line takes the folder's subfolders
 * back out: gitignore cannot let a file through once its parent folder is excluded.
 */
function allExcept(folder, allowed) {
  return [`**/${folder}/**`, `!**/${folder}/**/`, ...allowed.map((file) => `!**/${folder}/${file}`)];
}
