import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { accountState, suiteHarness } from './kill-runbook';
import { completedAzureActivities, expectKillCase, type Row } from './support';

const rows: Row[] = [];

describe('configureCmk with its worker SIGKILLed at every activity boundary', () => {
  const h = suiteHarness('Chaos: configureCmk, worker SIGKILLed after each Azure activity', rows);

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
      const state = accountState(h, account, vault);
      const vaultPuts = h.local.requestLog
        .writes({ operation: 'vaults.createOrUpdate' })
        .filter((e) => e.status < 300 && e.path.toLowerCase().endsWith(`/vaults/${vault}`)).length;
      const keyCreates = h.okWrites('keys.create', `${vault}.vault.azure.net`);
      const got = {
        outcome: result.outcome as string,
        kills: h.worker.kills - kills,
        vaultPuts,
        versions: state.versions,
        keyCreates,
        grants: state.grants,
        keySource: state.keySource,
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
      expectKillCase(rows, { k, at, message: result.message }, got, want, show);
    }
  });
});
