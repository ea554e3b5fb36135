import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startKillHarness, type KillHarness } from './kill-harness';
import { completedAzureActivities, printTable, type Row } from './support';

interface ArmAccount {
  identity?: { principalId?: string };
  properties: { encryption: { keySource: string } };
}

const rows: Row[] = [];

describe('configureCmk with its worker SIGKILLed at every activity boundary', () => {
  let h: KillHarness;
  before(async () => {
    h = await startKillHarness();
  });
  after(async () => {
    await h?.close();
    printTable('Chaos: configureCmk, worker SIGKILLed after each Azure activity', rows);
  });

  test('when the worker dies after each activity, then every run succeeds with one vault, one key version and one grant', async () => {
    const clean = await h.start('configure', h.configureInput(h.newAccount(), h.vaultName()));
    const { result: cleanResult } = await h.drive(clean);
    assert.equal(cleanResult.outcome, 'succeeded', cleanResult.message);
    const boundaries = await completedAzureActivities(clean);
    assert.ok(boundaries.length >= 6, `configure ran ${boundaries.join(', ')}`);

    for (let k = 1; k <= boundaries.length; k++) {
      const account = h.newAccount();
      const vault = h.vaultName();
      const kills = h.worker.kills;
      const { result, at } = await h.drive(await h.start('configure', h.configureInput(account, vault)), k);
      const arm = h.local.state.getStorageAccount(
        account.subscriptionId,
        account.resourceGroup,
        account.name,
      ) as unknown as ArmAccount;
      const principal = arm.identity?.principalId ?? 'none';
      const grants = h.local.state.listRoleAssignments().filter((r) => JSON.stringify(r).includes(principal));
      const vaultPuts = h.local.requestLog
        .writes({ operation: 'vaults.createOrUpdate' })
        .filter((e) => e.status < 300 && e.path.toLowerCase().endsWith(`/vaults/${vault}`)).length;
      const keyCreates = h.okWrites('keys.create', `${vault}.vault.azure.net`);
      const versions = h.local.state.listKeyVersions(vault, 'cmk-key').length;
      const got = {
        outcome: result.outcome as string,
        kills: h.worker.kills - kills,
        vaultPuts,
        versions,
        keyCreates,
        grants: grants.length,
        keySource: arm.properties.encryption.keySource,
      };
      const want = {
        outcome: 'succeeded',
        kills: 1,
        vaultPuts: 1,
        versions: 1,
        keyCreates: 1,
        grants: 1,
        keySource: 'Microsoft.Keyvault',
      };
      const show = (o: typeof got): string =>
        `${o.outcome}, ${o.kills} kill, vault PUT ${o.vaultPuts}, versions ${o.versions}, key creates ${o.keyCreates}, grants ${o.grants}`;
      rows.push({
        case: `killed after #${k} ${at ?? '(run ended first)'}`,
        expected: show(want),
        got: show(got),
        pass: JSON.stringify(got) === JSON.stringify(want),
      });
      assert.deepEqual(got, want, `killed after #${k} ${at}: ${result.message}`);
    }
  });
});
