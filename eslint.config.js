// Lint rules: the recommended sets, plus the few that keep the house style (STYLE.md) honest.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import path from 'node:path';
import { componentImportsRule } from './scripts/eslint/component-imports.js';

const switchyard = { rules: { 'component-imports': componentImportsRule(path.join(import.meta.dirname, 'src')) } };

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'demo/public/vendor/**', '.ci/**', '.tmp/**', 'src/diag/native/build/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', performance: 'readonly', fetch: 'readonly', structuredClone: 'readonly', document: 'readonly', window: 'readonly', localStorage: 'readonly', require: 'readonly', __dirname: 'readonly', __filename: 'readonly', module: 'writable' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-control-regex': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // folder per component; other components only through its index.ts (docs/DEVELOPING.md, Layout)
    files: ['src/**/*.ts'],
    plugins: { switchyard },
    rules: { 'switchyard/component-imports': 'error' },
  },
  {
    // node:http and node:util through core/builtins.ts: an ESM import of either runs lazy getters that
    // load more of Node (node:http: its bundled undici, ~12 MB per process); type imports cost nothing
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: ['node:http', 'http', 'node:util', 'util'].map((name) => ({ name, allowTypeImports: true, message: 'use nodeHttp / nodeUtil from src/core (core/builtins.ts says why)' })),
      }],
    },
  },
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
