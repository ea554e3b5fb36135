import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { suiteHarness } from './kill-runbook';
import { completedAzureActivities, expectKillCase, type Row } from './support';

const rows: Row[] = [];
/**
 * The local Azure, like Azure, picks a versionless account's new version up only in its daily
 * check, so each rotation would wait out the 30 s default before reporting it pending; the
 * suite tests the kills, not that wait.
 */
const confirmWithin = '3s';

describe('rotateKey with its worker SIGKILLed at every activity boundary', () => {
  const h = suiteHarness('Chaos: rotateKey, worker SIGKILLed after each Azure activity', rows);

  test('when the worker dies after each activity, then every rotation succeeds and adds exactly one key version', async () => {
    const account = h.newAccount();
    const vault = h.vaultName();
    const configured = await h.drive(await h.start('configure', h.configureInput(account, vault)));
    assert.equal(configured.result.outcome, 'succeeded', configured.result.message);
    const clean = await h.start('rotate', { account, confirmWithin, ...h.context });
    const { result: cleanResult } = await h.drive(clean);
    assert.equal(cleanResult.outcome, 'succeeded', cleanResult.message);
    const boundaries = await completedAzureActivities(clean);
    assert.ok(boundaries.includes('rotateKey'), `rotate ran ${boundaries.join(', ')}`);

    for (let k = 1; k <= boundaries.length; k++) {
      const versionsBefore = h.local.state.listKeyVersions(vault, 'cmk-key').length;
      // Rotation is Key Vault's rotate operation (POST keys/{name}/rotate), never a create.
      const rotatesBefore = h.okWrites('keys.rotate', `${vault}.vault.azure.net`);
      const kills = h.worker.kills;
      const { result, at } = await h.drive(
        await h.start('rotate', { account, confirmWithin, ...h.context }),
        k,
      );
      const got = {
        outcome: result.outcome as string,
        kills: h.worker.kills - kills,
        newVersions: h.local.state.listKeyVersions(vault, 'cmk-key').length - versionsBefore,
        keyRotates: h.okWrites('keys.rotate', `${vault}.vault.azure.net`) - rotatesBefore,
      };
      const want = { outcome: 'succeeded', kills: 1, newVersions: 1, keyRotates: 1 };
      const show = (o: typeof got): string =>
        `${o.outcome}, ${o.kills} kill, +${o.newVersions} version, ${o.keyRotates} key rotate`;
      expectKillCase(rows, { k, at, message: result.message }, got, want, show);
    }
  });
});
