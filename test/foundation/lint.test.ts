import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '../..');
const written: string[] = [];

/** Lints a real file in `dir` (typed linting needs it on disk); the file is removed after the suite. */
async function lintAt(dir: string, source: string): Promise<string[]> {
  const file = path.join(ROOT, dir, `lint-probe-${process.pid}-${written.length}.ts`);
  writeFileSync(file, source);
  written.push(file);
  const [result] = await new ESLint({ cwd: ROOT }).lintFiles([file]);
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

  test('when code leaves a promise floating, then lint fails with no-floating-promises', async () => {
    const messages = await lintAt('src/activities', `export async function f(): Promise<void> {}\nf();\n`);
    assert.ok(
      messages.some((m) => m.startsWith('@typescript-eslint/no-floating-promises')),
      messages.join('\n'),
    );
  });
});
