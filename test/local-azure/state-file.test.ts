import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalAzure } from '../../src/local-azure';
import type { StateData } from '../../src/local-azure/model';
import { clientsFor, RG_KEYS, SUB } from './clients';
import { createCmkVault } from './fixtures';

const BLOB_DATA_CONTRIBUTOR = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';

describe('state file', () => {
  test('when the emulator restarts with its state file, then vaults, keys and their key material are still there', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'local-azure-state-'));
    const stateFile = path.join(dataDir, 'state.json');
    const first = await startLocalAzure({ dataDir, stateFile });
    const { key } = await createCmkVault(first, 'kv-kept');
    const wrapped = await clientsFor(first).crypto(key.id!).wrapKey('RSA-OAEP', Buffer.from('kept'));
    await first.close();

    const second = await startLocalAzure({ dataDir, stateFile });
    try {
      assert.ok(second.state.getVault(SUB, RG_KEYS, 'kv-kept'));
      const c = clientsFor(second);
      const again = await c.keys('kv-kept').getKey('cmk');
      assert.equal(again.id, key.id);
      const unwrapped = await c.crypto(key.id!).unwrapKey('RSA-OAEP', wrapped.result);
      assert.equal(Buffer.from(unwrapped.result).toString(), 'kept');
      assert.equal(second.caPem, first.caPem, 'the CA is reused, so trusted bundles stay valid');
    } finally {
      await second.close();
    }
  });

  test('when a state file from before blob data roles is loaded, then the seeded Storage Blob Data Contributor grant is added, so the runbook can still read its canary', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'local-azure-v1-'));
    const stateFile = path.join(dataDir, 'state.json');
    const first = await startLocalAzure({ dataDir, stateFile });
    await first.close();
    const v1 = JSON.parse(readFileSync(stateFile, 'utf8')) as StateData;
    delete v1.version;
    for (const [key, a] of Object.entries(v1.roleAssignments))
      if (a.roleDefinitionId.endsWith(BLOB_DATA_CONTRIBUTOR)) delete v1.roleAssignments[key];
    writeFileSync(stateFile, JSON.stringify(v1));

    const second = await startLocalAzure({ dataDir, stateFile });
    try {
      const grants = second.state
        .listRoleAssignments(`/subscriptions/${SUB}`)
        .map((a) => (a as { properties: { roleDefinitionId: string } }).properties.roleDefinitionId);
      assert.ok(grants.some((id) => id.endsWith(BLOB_DATA_CONTRIBUTOR)));
      const canary = clientsFor(second).blob('stcontoso').getContainerClient('cmk-runbook');
      await canary.create();
      await canary.getBlockBlobClient('canary').upload('x', 1);
    } finally {
      await second.close();
    }
  });
});
