import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PEOPLE, resultOf, startStack, testPolicy, type Stack } from '../helpers/stack';
import { timeSkippingEnv, uniqueId } from '../helpers/temporal';
import { configureInput, decide } from './support';

describe('approval deadlines (time skipping)', () => {
  let env: TestWorkflowEnvironment | undefined;
  let stack: Stack;
  before(async () => {
    env = await timeSkippingEnv();
    if (env) stack = await startStack({ env });
  });
  after(async () => {
    await stack?.close();
    await env?.teardown();
  });

  test('when nobody decides within 24 hours, then the run ends expired, nothing changed, and a late decision is refused', async (t) => {
    if (!env) return t.skip('the time-skipping test server is not installed');
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const conv = uniqueId('conv');
    const handle = await stack.start(
      'configure',
      configureInput(account, testPolicy({ deadline: '24h' }), conv),
    );
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'expired');
    assert.match(result.message, /No decision within 24h; nothing was changed/);
    assert.equal(stack.azure.account(account.name).encryption.keySource, 'Microsoft.Storage');
    assert.deepEqual(
      stack.azure.changes.filter((c) => c.includes(account.name)),
      [],
    );
    assert.equal(stack.chat.latestCard(conv)?.approval.state, 'expired');
    await assert.rejects(decide(handle, PEOPLE.alice, 'approve', { issuedAtMs: await env.currentTimeMs() }));
  });

  test('when approval comes after 23 hours, then the run still goes ahead', async (t) => {
    if (!env) return t.skip('the time-skipping test server is not installed');
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const handle = await stack.start(
      'configure',
      configureInput(account, testPolicy({ deadline: '24h' }), uniqueId('conv')),
    );
    await env.sleep('23h');
    await decide(handle, PEOPLE.bob, 'approve', { issuedAtMs: await env.currentTimeMs() });
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(stack.azure.account(account.name).encryption.keySource, 'Microsoft.Keyvault');
  });
});
