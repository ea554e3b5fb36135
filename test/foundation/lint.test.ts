import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '../..');
const written: string[] = [];

/** Writes a probe file in `dir` (typed linting needs it on disk); it is removed after the suite. */
function probe(dir: string, source: string, name = `lint-probe-${process.pid}-${written.length}`): string {
  const file = path.join(ROOT, dir, `${name}.ts`);
  writeFileSync(file, source);
  written.push(file);
  return file;
}

/** Lints a real file in `dir`; the messages as `rule: message`. */
async function lintAt(dir: string, source: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: ROOT }).lintFiles([probe(dir, source)]);
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('lint guards the design', () => {
  after(() => {
    for (const file of written) rmSync(file, { force: true });
  });

  test('when a workflow file imports node:fs, then lint fails on that import', async () => {
    const messages = await lintAt(
      'src/workflows',
      `import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n`,
    );
    assert.ok(
      messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('node:fs')),
      messages.join('\n'),
    );
  });

  test("when the local Azure imports the product's duration parser, then lint fails on that import", async () => {
    const messages = await lintAt(
      'src/local-azure',
      `import { parseDurationMs } from '../shared/duration';\nexport const x = parseDurationMs;\n`,
    );
    assert.ok(
      messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('iso-duration')),
      messages.join('\n'),
    );
  });

  test('when a workflow or shared module keeps state at module level, then lint fails; constants pass', async () => {
    // Every run in a sandbox shares these modules (PRELOADED_MODULES in src/workflow-bundle.ts).
    const stateful = [
      'let calls = 0;\nexport function count(): number {\n  return ++calls;\n}\n',
      'export var seen = 0;\n',
      'const cache = new Map<string, number>();\nexport const remember = (k: string): void => void cache.set(k, 1);\n',
      'export const seenIds = new Set<string>();\n',
      'const pending: string[] = [];\nexport const add = (s: string): number => pending.push(s);\n',
      'const byId: Record<string, number> = {};\nexport const put = (k: string): void => {\n  byId[k] = 1;\n};\n',
    ];
    for (const dir of ['src/workflows', 'src/shared'])
      for (const source of stateful) {
        const messages = await lintAt(dir, source);
        assert.ok(
          messages.some((m) => m.startsWith('no-restricted-syntax') && m.includes('shared by every run')),
          `${dir}: ${source}\n${messages.join('\n')}`,
        );
      }
    const constants = await lintAt(
      'src/workflows',
      "const STEPS: readonly string[] = ['a', 'b'];\nexport const LIMITS = { max: 3 };\nexport function has(s: string): boolean {\n  let found = STEPS.includes(s);\n  const seen = new Set<string>();\n  seen.add(s);\n  found &&= seen.size > 0;\n  return found && LIMITS.max > 0;\n}\n",
    );
    assert.deepEqual(constants, []);
  });

  test('when a workflow file imports @temporalio/activity, then lint fails on that import', async () => {
    const messages = await lintAt(
      'src/workflows',
      `import { Context } from '@temporalio/activity';\nexport const c = Context;\n`,
    );
    assert.ok(
      messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('@temporalio/activity')),
      messages.join('\n'),
    );
  });

  test('when a workflow file imports activity code for its values, then lint fails; a type-only import passes', async () => {
    const value = await lintAt(
      'src/workflows',
      `import { createActivitiesFromConfig } from '../activities';\nexport const f = createActivitiesFromConfig;\n`,
    );
    assert.ok(
      value.some((m) => m.startsWith('no-restricted-imports')),
      value.join('\n'),
    );
    const typeOnly = await lintAt(
      'src/workflows',
      `import type { CmkActivities } from '../shared/activities';\nimport { proxyActivities } from '@temporalio/workflow';\nexport const a = proxyActivities<CmkActivities>({ startToCloseTimeout: '1m' });\n`,
    );
    assert.deepEqual(typeOnly, []);
  });

  test('when bot code outside the transports imports botbuilder or the Agents SDK, then lint fails; a transport may', async () => {
    for (const sdk of ['botbuilder', '@microsoft/agents-hosting']) {
      const outside = await lintAt(
        'src/bot',
        `import { CloudAdapter } from '${sdk}';\nexport const a = CloudAdapter;\n`,
      );
      assert.ok(
        outside.some((m) => m.startsWith('no-restricted-imports') && m.includes('src/bot/transports')),
        outside.join('\n'),
      );
      const transport = await lintAt(
        'src/bot/transports',
        `import { CloudAdapter } from '${sdk}';\nexport const a = CloudAdapter;\n`,
      );
      assert.deepEqual(transport, []);
    }
  });

  test('when two modules import each other, then lint fails with no-cycle (the TypeScript resolver follows ./x to x.ts)', async () => {
    const a = `lint-cycle-a-${process.pid}`;
    const b = `lint-cycle-b-${process.pid}`;
    probe('src/shared', `import { b } from './${b}';\nexport const a = (): unknown => b;\n`, a);
    probe('src/shared', `import { a } from './${a}';\nexport const b = (): unknown => a;\n`, b);
    const [result] = await new ESLint({ cwd: ROOT }).lintFiles([path.join(ROOT, 'src/shared', `${a}.ts`)]);
    const messages = (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
    assert.ok(
      messages.some((m) => m.startsWith('import-x/no-cycle')),
      messages.join('\n'),
    );
  });

  test('when the proof verifier imports the pure Ed25519 and base64url packages, then lint passes; anywhere else in workflow code it fails', async () => {
    const [verifier] = await new ESLint({ cwd: ROOT }).lintFiles([path.join(ROOT, 'src/shared/proof.ts')]);
    assert.deepEqual(
      (verifier?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`),
      [],
    );
    for (const [dir, module] of [
      ['src/workflows', '@noble/curves/ed25519.js'],
      ['src/shared', '@scure/base'],
      ['src/shared', '@noble/hashes/sha2.js'],
      ['src/workflows', 'jose'],
    ] as const) {
      const messages = await lintAt(dir, `import * as m from '${module}';\nexport const x = m;\n`);
      assert.ok(
        messages.some((m) => m.startsWith('no-restricted-imports') && m.includes(module)),
        `${dir} importing ${module}: ${messages.join('\n')}`,
      );
    }
  });

  test('when workflow code imports patched or deprecatePatch, then lint fails and names inForce; src/workflows/patches.ts may', async () => {
    for (const name of ['patched', 'deprecatePatch']) {
      const messages = await lintAt(
        'src/workflows',
        `import { ${name} } from '@temporalio/workflow';\nexport const x = ${name};\n`,
      );
      assert.ok(
        messages.some((m) => m.startsWith('no-restricted-imports') && m.includes('inForce')),
        `${name}: ${messages.join('\n')}`,
      );
    }
    const [patches] = await new ESLint({ cwd: ROOT }).lintFiles([
      path.join(ROOT, 'src/workflows/patches.ts'),
    ]);
    assert.deepEqual(
      (patches?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`),
      [],
    );
  });

  test('when a function in src/ runs over 80 lines, then lint fails with max-lines-per-function; at 80 lines it passes', async () => {
    const fn = (lines: number) =>
      `export function long(): number {\n  let n = 0;\n${'  n += 1;\n'.repeat(lines - 4)}  return n;\n}\n`;
    const over = await lintAt('src/activities', fn(81));
    assert.ok(
      over.some((m) => m.startsWith('max-lines-per-function') && m.includes('81')),
      over.join('\n'),
    );
    assert.deepEqual(await lintAt('src/activities', fn(80)), []);
  });

  test('when code leaves a promise floating, then lint fails with no-floating-promises', async () => {
    const messages = await lintAt('src/activities', `export async function f(): Promise<void> {}\nf();\n`);
    assert.ok(
      messages.some((m) => m.startsWith('@typescript-eslint/no-floating-promises')),
      messages.join('\n'),
    );
  });
});
