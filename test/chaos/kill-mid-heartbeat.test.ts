/**
 * One SIGKILL in the middle of a long, heartbeating activity: the rotation's Key Vault half
 * (makeKeyVersion, on the paced queue of Key Vault creates) has asked Key Vault to rotate (the new
 * version exists) and heartbeated which version it rotated from, and is waiting on the tag write
 * when its worker dies. The retry on a fresh worker starts from that heartbeat: it adopts the
 * version the dead attempt made instead of rotating again, and rotateKey then moves the account
 * to it once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { openPayload } from '../helpers/codec';
import { PEOPLE } from '../helpers/stack';
import { decideAs } from '../helpers/trust';
import { startKillHarness, statusOf, type KillHarness } from './kill-harness';
import { eventually, hurryPendingActivities, printTable, type Row } from './support';

const rows: Row[] = [];

/** The heartbeat details of the run's started `activityType`, once it has heartbeated. */
async function heartbeatOf(
  handle: WorkflowHandle,
  activityType: string,
): Promise<Record<string, unknown> | undefined> {
  const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
  const pending = ((await handle.describe()).raw.pendingActivities ?? []).find(
    (a) => a.activityType?.name === activityType && a.state === STARTED,
  );
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  return payload ? openPayload<Record<string, unknown>>(payload) : undefined;
}

describe('a worker SIGKILLed in the middle of a heartbeating activity', () => {
  let h: KillHarness;
  before(async () => {
    h = await startKillHarness();
  });
  after(async () => {
    h?.local.faults.reset();
    await h?.close();
    printTable('Chaos: worker SIGKILLed inside makeKeyVersion, after Key Vault rotated', rows);
  });

  test("when the worker dies inside the rotation's Key Vault half (makeKeyVersion) after Key Vault made the new version, then the retry resumes from its heartbeat, adopts that version, the key is rotated once and the account PATCHed once", async () => {
    const account = h.newAccount();
    const vault = h.vaultName();
    const configured = await h.drive(
      await h.start('configure', { ...h.configureInput(account, vault), pinVersion: true }),
    );
    assert.equal(configured.result.outcome, 'succeeded', configured.result.message);
    const versionsBefore = h.local.state.listKeyVersions(vault, 'cmk-key').length;
    const host = `${vault}.vault.azure.net`;
    const rotatesBefore = h.okWrites('keys.rotate', host);
    const patchesBefore = h.okWrites('storageAccounts.update');
    const kills = h.worker.kills;
    // The tag write after the rotation waits 15 s before Key Vault carries it out: the window.
    h.local.faults.set({ latencies: [{ service: 'keyvault', method: 'PATCH', ms: 15_000 }] });
    const handle = await h.start('rotate', { account, ...h.context });
    const seen = await eventually('makeKeyVersion rotated and heartbeated', async () => {
      const run = await statusOf(handle);
      if (run.stage === 'awaiting-approval' && run.approval.state === 'pending')
        await decideAs(handle, PEOPLE.alice, 'approve');
      if (h.okWrites('keys.rotate', host) === rotatesBefore) return undefined;
      return heartbeatOf(handle, 'makeKeyVersion');
    });
    await h.worker.kill();
    h.local.faults.reset();
    await hurryPendingActivities(h.client, handle);
    await h.worker.start();
    const { result } = await h.drive(handle);
    const attempts = ((await handle.fetchHistory()).events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    const versions = h.local.state.listKeyVersions(vault, 'cmk-key') as Array<{ key?: { kid?: string } }>;
    const newest = versions[versions.length - 1]?.key?.kid?.split('/').pop();
    const arm = h.local.state.getStorageAccount(
      account.subscriptionId,
      account.resourceGroup,
      account.name,
    ) as unknown as { properties: { encryption: { keyvaultproperties?: { keyversion?: string } } } };
    const got = {
      outcome: result.outcome as string,
      kills: h.worker.kills - kills,
      heartbeatNamed: typeof seen.rotatingFrom === 'string',
      retried: Math.max(...attempts) >= 2,
      keyRotates: h.okWrites('keys.rotate', host) - rotatesBefore,
      newVersions: versions.length - versionsBefore,
      patches: h.okWrites('storageAccounts.update') - patchesBefore,
      pinnedToNew: arm.properties.encryption.keyvaultproperties?.keyversion === newest,
    };
    const want = {
      outcome: 'succeeded',
      kills: 1,
      heartbeatNamed: true,
      retried: true,
      keyRotates: 1,
      newVersions: 1,
      patches: 1,
      pinnedToNew: true,
    };
    rows.push({
      case: `killed inside makeKeyVersion (heartbeat ${JSON.stringify(seen)})`,
      expected: JSON.stringify(want),
      got: JSON.stringify(got),
      pass: JSON.stringify(got) === JSON.stringify(want),
    });
    assert.deepEqual(got, want, result.message);
  });
});
