import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { StorageManagementClient } from '@azure/arm-storage';
import { createArmAccountResolver, type AccountResolver } from '../../src/bot/accounts';
import type { LocalAzure } from '../../src/local-azure';
import { clientsFor, retryOptions, SUB } from '../local-azure/clients';
import { startForTest } from '../local-azure/fixtures';

// The fleet selector read through the real ARM storage client against the local Azure: what
// `rotate-fleet --tag/--resource-group/--subscription` would rotate.
describe('selecting a fleet of storage accounts in the configured subscriptions', () => {
  let local: LocalAzure;
  let resolver: AccountResolver;
  const run = randomUUID().replace(/-/g, '').slice(0, 6);
  const name = (n: string) => `st${n}${run}`;
  const names = (refs: { name: string }[]) => refs.map((r) => r.name).sort();

  before(async () => {
    local = await startForTest();
    const { credential } = clientsFor(local);
    resolver = createArmAccountResolver({
      subscriptionIds: [SUB],
      storage: (s) => new StorageManagementClient(credential, s, { agent: local.agent, retryOptions }),
    });
    const add = (n: string, resourceGroup: string, tags: Record<string, string>) =>
      local.state.addStorageAccount({ subscriptionId: SUB, resourceGroup, name: name(n), tags });
    add('pay1', 'rg-storage', { Team: `pay${run}` });
    add('pay2', `rg-pay${run}`, { team: `pay${run}` });
    add('other', `rg-pay${run}`, { team: `Pay${run}` });
    add('untagged', `rg-pay${run}`, {});
  });
  after(async () => {
    await local?.close();
  });

  test('when a tag is given, then tag names match without case and values exactly (Azure: tag names are case-insensitive for operations, values case-sensitive)', async () => {
    assert.deepEqual(names(await resolver.select({ tag: { name: 'TEAM', value: `pay${run}` } })), [
      name('pay1'),
      name('pay2'),
    ]);
  });

  test('when a resource group is given, then only its accounts are selected, and with a tag only the tagged ones there', async () => {
    assert.deepEqual(names(await resolver.select({ resourceGroup: `rg-pay${run}` })), [
      name('other'),
      name('pay2'),
      name('untagged'),
    ]);
    assert.deepEqual(
      names(
        await resolver.select({ resourceGroup: `rg-pay${run}`, tag: { name: 'team', value: `pay${run}` } }),
      ),
      [name('pay2')],
    );
  });

  test('when a resource group does not exist (ARM answers ResourceGroupNotFound, 404), then nothing is selected', async () => {
    assert.deepEqual(await resolver.select({ resourceGroup: `rg-none${run}` }), []);
  });

  test('when a subscription is given, then the selection is read there', async () => {
    assert.ok(
      names(await resolver.select({ subscriptionId: SUB })).includes(name('untagged')),
      'every account of the subscription',
    );
  });
});
