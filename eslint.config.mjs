// Lint rules that guard the project's design: no floating promises, type-only imports where
// possible, no import cycles, and a workflow sandbox that cannot reach Node or side effects.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)].filter(
  (m) => !['assert', 'url', 'util', 'node:assert', 'node:url', 'node:util'].includes(m),
);

const sandboxModules = ['assert', 'url', 'util'];

/** Packages workflow code may import: the workflow SDK, its common types, the modules the sandbox provides. */
const WORKFLOW_PACKAGES = [
  '@temporalio/workflow',
  '@temporalio/common',
  ...sandboxModules,
  ...sandboxModules.map((m) => `node:${m}`),
];

/**
 * The audited, pure-JS crypto the proof verifier uses inside the sandbox (Ed25519, base64url):
 * allowed in src/shared/proof.ts and nowhere else in workflow code.
 */
export const PROOF_PACKAGES = ['@noble/curves/ed25519.js', '@scure/base'];

/** A pattern refusing every package import except `allowed` (relative imports are not packages). */
function onlyPackages(allowed) {
  const escaped = allowed.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return {
    regex: `^(?!\\.|(?:${escaped.join('|')})(?:/|$))`,
    message: `Workflow code may import only ${allowed.join(', ')} and src/shared; src/shared/proof.ts alone may also import ${PROOF_PACKAGES.join(', ')}.`,
  };
}

/**
 * Imports the Temporal workflow sandbox must never see (`allowed`: the packages it may import).
 * Patches are asked through `inForce` (src/workflows/patches.ts, `askPatches`), which knows the
 * baselines a run can start under; a bare `patched` would record a marker a baseline run skips.
 */
export function workflowRestrictedImports(allowed = WORKFLOW_PACKAGES, { askPatches = false } = {}) {
  return {
    paths: [
      ...nodeBuiltins.map((name) => ({
        name,
        message: 'Workflow code is deterministic: no Node built-ins.',
      })),
      ...(askPatches
        ? []
        : [
            {
              name: '@temporalio/workflow',
              importNames: ['patched', 'deprecatePatch'],
              message:
                'Ask a patch with inForce() from src/workflows/patches.ts: it honours the rules baseline a run started under (src/shared/rules.ts).',
            },
          ]),
    ],
    patterns: [
      {
        group: [
          '@temporalio/activity',
          '@temporalio/client',
          '@temporalio/worker',
          '@temporalio/testing',
          '@temporalio/core-bridge',
        ],
        message:
          'Workflow code may import only @temporalio/workflow (and @temporalio/common) and src/shared.',
      },
      {
        group: [
          '**/activities',
          '**/activities/**',
          '**/bot',
          '**/bot/**',
          '**/local-azure',
          '**/local-azure/**',
          '**/config',
        ],
        message: 'Workflow code may import only src/shared; side effects live in activities.',
        allowTypeImports: true,
      },
      {
        group: ['@azure/*', 'botbuilder', 'botbuilder-*', 'botframework-*', '@microsoft/agents-*'],
        message: 'No SDKs in workflow code.',
      },
      onlyPackages(allowed),
    ],
  };
}

/** The bot SDKs: only the transports know which one runs; everything else uses the seam. */
export const botSdkRestrictedImports = {
  patterns: [
    {
      group: ['botbuilder', 'botbuilder-*', 'botframework-*', '@microsoft/agents-*'],
      message:
        'Only src/bot/transports/ knows which bot SDK runs; use the seam in src/bot/chat-transport.ts.',
    },
  ],
};

/**
 * Module-level state that runs sharing one module would share, exported or not: `let`/`var`
 * bindings, collections (`Map`, `Set`, `WeakMap`, `WeakSet`) and empty `[]`/`{}` to fill later.
 * What a shared module exports is also frozen by the sandbox once preloaded.
 */
function moduleStateRestrictions() {
  const message =
    'Workflow and shared modules are shared by every run in the sandbox: keep per-run state inside the workflow function, not at module level.';
  const declarations = [
    'Program > VariableDeclaration',
    'Program > ExportNamedDeclaration > VariableDeclaration',
  ];
  return declarations.flatMap((declaration) => [
    { selector: `${declaration}[kind!="const"]`, message },
    {
      selector: `${declaration} > VariableDeclarator > NewExpression[callee.name=/^(Map|Set|WeakMap|WeakSet)$/]`,
      message,
    },
    { selector: `${declaration} > VariableDeclarator > ArrayExpression[elements.length=0]`, message },
    { selector: `${declaration} > VariableDeclarator > ObjectExpression[properties.length=0]`, message },
  ]);
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.data/',
      '.tools/',
      'test-results/',
      'devTools/',
      'test/histories/',
      'vendor/',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    // Without a TypeScript resolver and parser import-x cannot follow `./x` to `x.ts` and read it,
    // and no-cycle never fires (test/foundation/lint.test.ts proves that it does).
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'test', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-empty-function': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // A function of the product reads on one screen: over 80 lines it is split into named steps.
    // One that cannot be says why in an eslint-disable comment beside it.
    files: ['src/**/*.ts', 'worker.ts', 'bot.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, IIFEs: true }] },
  },
  {
    files: ['src/**/*.ts', 'worker.ts', 'bot.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    ignores: ['src/bot/transports/**'],
    rules: { 'no-restricted-imports': ['error', botSdkRestrictedImports] },
  },
  {
    // The emulator is held to Azure's documentation: it reads durations as Key Vault does, so a
    // bug in the product's parser cannot hide in tests that run against it.
    files: ['src/local-azure/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...botSdkRestrictedImports.patterns,
            {
              group: ['**/shared/duration'],
              message:
                "The local Azure parses durations itself (./iso-duration), never with the product's parser.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', workflowRestrictedImports()],
      // The worker loads these modules once per sandbox and every run shares them
      // (PRELOADED_MODULES in src/workflow-bundle.ts): state at module level would leak between runs.
      'no-restricted-syntax': ['error', ...moduleStateRestrictions()],
    },
  },
  {
    files: ['src/workflows/patches.ts'],
    rules: {
      'no-restricted-imports': ['error', workflowRestrictedImports(WORKFLOW_PACKAGES, { askPatches: true })],
    },
  },
  {
    files: ['src/shared/proof.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        workflowRestrictedImports([...WORKFLOW_PACKAGES, ...PROOF_PACKAGES]),
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
