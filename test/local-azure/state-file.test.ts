import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalAzure } from '../../src/local-azure';
import { clientsFor, RG_KEYS, SUB } from './clients';
import { createCmkVault } from './fixtures';

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
});
