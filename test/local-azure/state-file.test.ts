import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalAzure } from '../../src/local-azure';
import type { StateData } from '../../src/local-azure/model';
import { removeStaleTemps } from '../../src/local-azure/files';
import { clientsFor, RG_KEYS, SUB } from './clients';
import { createCmkVault } from './fixtures';

const BLOB_DATA_CONTRIBUTOR = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
const ROOT = path.resolve(__dirname, '../..');

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

  test('when two local Azures start at once in one fresh data folder (two test files on a fresh clone), then they share one CA and token key and the SDK clients of both trust it', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'local-azure-shared-'));
    const [a, b] = await Promise.all([startLocalAzure({ dataDir }), startLocalAzure({ dataDir })]);
    try {
      assert.equal(a.caPem, b.caPem, 'one CA, not the last writer over the other');
      assert.equal(readFileSync(path.join(dataDir, 'ca.pem'), 'utf8'), a.caPem);
      for (const local of [a, b]) {
        const { key } = await createCmkVault(local, `kv-shared-${local === a ? 'a' : 'b'}`);
        assert.ok(key.id);
      }
      assert.ok(!existsSync(path.join(dataDir, '.lock')), 'the lock is released');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("when stale temporary files are cleaned, then a running process's file being written is left and a dead process's is removed", () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'local-azure-temps-'));
    const dead = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    const mine = path.join(dataDir, `token-key.${process.pid}.${Date.now()}.tmp`);
    const left = path.join(dataDir, `state.json.${dead}.${Date.now()}.tmp`);
    writeFileSync(mine, 'x');
    writeFileSync(left, 'x');
    removeStaleTemps(dataDir);
    assert.ok(existsSync(mine), 'a running writer keeps its temp file until it renames it');
    assert.ok(!existsSync(left), "a dead writer's temp file is removed");
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

  test('when the emulator is killed halfway through writing its state, then the file it leaves is whole (the previous save) and the next start loads it (temp file + rename)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'local-azure-kill-'));
    const stateFile = path.join(dataDir, 'state.json');
    // The writer's disk is slow: each large write stops halfway and says so.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'state-writer.ts'), dataDir, stateFile],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('half') && resolve());
      child.on('exit', (code) => reject(new Error(`the writer exited before writing with ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as StateData;
    assert.ok(Object.keys(saved.storageAccounts).some((k) => k.endsWith('/stcontoso')));
    const again = await startLocalAzure({ dataDir, stateFile });
    try {
      assert.ok(again.state.getStorageAccount(SUB, 'rg-storage', 'stcontoso'));
      assert.deepEqual(
        readdirSync(dataDir).filter((f) => f.endsWith('.tmp')),
        [],
        'the half-written temp file is cleared at start',
      );
    } finally {
      await again.close();
    }
  });

  test('when npm run azure:local runs with CMK_DATA_DIR and is stopped with Ctrl-C, then its CA and state live under $CMK_DATA_DIR/local-azure and the state is saved whole', async () => {
    const dataRoot = mkdtempSync(path.join(tmpdir(), 'cmk-data-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/azure-local.ts'], {
      cwd: ROOT,
      env: { ...process.env, CMK_DATA_DIR: dataRoot, LOCAL_AZURE_PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Point a client at it')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`azure:local exited early with ${code}: ${out}`)));
    });
    assert.match(out, new RegExp(`Data folder: ${path.join(dataRoot, 'local-azure')}`));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
    const dir = path.join(dataRoot, 'local-azure');
    assert.ok(existsSync(path.join(dir, 'ca.pem')));
    const saved = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as StateData;
    assert.equal(saved.version, 2);
  });
});
