// ESLint flat config: typed rules for both workspaces, plus folder boundaries from ARCHITECTURE.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const coreForbidden = [
  { group: ['fastify', '@fastify/*'], message: 'core/ is protocol-neutral: no fastify.' },
  { group: ['@grpc/*'], message: 'core/ is protocol-neutral: no grpc.' },
  { group: ['prom-client'], message: 'core/ reports metrics through an injected interface.' },
  {
    group: ['onnxruntime-node'],
    message: 'Only runtime/onnx-runtime.ts imports onnxruntime-node.',
  },
  { group: ['**/transport/**'], message: 'core/ never imports transport/.' },
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'server/src/generated/**',
      // Written by `npm run setup` in bench/grpc-proto (protoc-gen-es), not committed.
      'bench/grpc-proto/gen/**',
      'examples/**',
      'charts/**',
      // Type declarations of plain .mjs scripts, for the tests that import them.
      'scripts/*.d.mts',
      '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: [
                'describe',
                'it',
                'test',
                'suite',
                'before',
                'after',
                'beforeEach',
                'afterEach',
              ],
            },
          ],
        },
      ],
      // fastify route handlers are async by convention even when they await nothing.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // 'modified' counts a switch as one branch: exhaustive datatype tables stay readable.
      complexity: ['error', { max: 14, variant: 'modified' }],
      'max-depth': ['error', 4],
      'no-restricted-properties': [
        'error',
        { object: 'describe', property: 'only' },
        { object: 'it', property: 'only' },
        { object: 'test', property: 'only' },
      ],
    },
  },
  {
    files: ['server/src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: coreForbidden }] },
  },
  {
    // The contract is shared by server, agent and operator: it depends on nothing of theirs and
    // on no library but zod, so importing it never drags a program's dependencies along.
    files: ['contract/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!zod$|node:|\\.\\.?/).*',
              message: 'contract/ imports only zod, node: built-ins and its own files.',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'The contract names variables; the programs read them in their config.ts.',
        },
      ],
    },
  },
  {
    // The agent shares only the contract with the server and the operator.
    files: ['agent/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@tessera/server',
                '@tessera/operator',
                '**/server/src/**',
                '**/operator/src/**',
              ],
              message:
                'agent/ imports nothing from server/ or operator/: share through @tessera/contract.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['server/src/**/*.ts', 'operator/src/**/*.ts', 'agent/src/**/*.ts'],
    ignores: ['server/src/config.ts', 'operator/src/config.ts', 'agent/src/config.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Only config.ts reads process.env.',
        },
      ],
    },
  },
  {
    // The tree evaluators' inner loops index typed arrays whose bounds hold by construction
    // (runtime/trees/forest.ts); `!` keeps them free of per-access fallbacks.
    files: ['server/src/runtime/trees/evaluate-*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Tests guard indexed results defensively; the rule misreads array destructuring there.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      complexity: 'off',
    },
  },
  {
    // node:test's describe/it return promises the runner itself awaits, and node:assert's
    // `asserts` signatures narrow types, which makes later optional chains look unnecessary.
    files: ['test/**/operator/**/*.ts', 'bench/operator/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
