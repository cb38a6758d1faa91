import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'bin/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Everything above the datastore speaks the Store contract; the KV driver interface is the
    // etcd store's own business (its tests and the KV benches may still reach it).
    files: ['**/*.ts'],
    ignores: ['datastore/backends/**', '**/*.test.ts', 'test/**', 'bench/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/backends/kv.js'], message: 'Use the Store (datastore/store.ts); the KV driver is internal to datastore/backends/.' }] }],
    },
  },
);
