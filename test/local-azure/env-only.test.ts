import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { RUNBOOK_OID, startForTest } from './fixtures';
import { beforeAll } from '../kit/suite';

const run = promisify(execFile);

describe('a client configured only by environment', () => {
  const local = beforeAll(() => startForTest());

  test('when a child process gets only local.env, then the unmodified SDK clients reach ARM, Key Vault and Blob', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'env-client.ts')],
      {
        env: { ...process.env, ...local.env },
        cwd: path.resolve(__dirname, '../..'),
      },
    );
    const seen = JSON.parse(stdout) as { account: string; kid: string; blobKind: string };
    assert.equal(seen.account, 'stcontoso');
    assert.match(seen.kid, /^https:\/\/kv-rbac\.vault\.azure\.net\/keys\/from-env\/[0-9a-f]{32}$/);
    assert.equal(seen.blobKind, 'StorageV2');
    assert.equal(local.state.listKeys('kv-rbac').length, 1);
    const services = new Set(
      local.requestLog.entries({ principalId: RUNBOOK_OID, status: 200 }).map((e) => e.service),
    );
    assert.deepEqual([...services].sort(), ['arm', 'blob', 'entra', 'keyvault']);
  });
});
