import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureTemporalCli } from '../../scripts/temporal-toolchain';
import { freePort, startDevServer, type DevServer } from '../../scripts/temporal-dev-server';
import { LOCAL, PEOPLE, resultOf, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { testDataConverter, uniqueId } from '../helpers/temporal';
import { decide, waitForApproval } from '../workflows/support';
import { printTable, type Row } from './support';

const rows: Row[] = [];

describe('the Temporal server restarts while a run waits for approval', () => {
  const dir = path.resolve('.data/test', uniqueId('chaos-server'));
  const dbFile = path.join(dir, 'temporal.db');
  let port: number;
  let server: DevServer;
  let env: TestWorkflowEnvironment;
  let s: LocalStack;

  before(async () => {
    mkdirSync(dir, { recursive: true });
    port = await freePort();
    server = await startDevServer({ cli: ensureTemporalCli().path, port, dbFile });
    env = await TestWorkflowEnvironment.createFromExistingServer({
      address: server.address,
      client: { dataConverter: testDataConverter },
    });
    s = await startLocalStack({ env, throttling: false });
  });
  after(async () => {
    await s?.close();
    await env?.teardown();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    printTable('Chaos: Temporal server (SQLite) restarted during an approval wait', rows);
  });

  test('when the server restarts on the same database while a run waits, then the run survives and the approval after the restart is accepted', async () => {
    const account = s.newAccount('strestart');
    const vault = s.vaultName('kv-restart');
    const handle = await s.start('configure', {
      account,
      vault: { name: vault, resourceGroup: LOCAL.keysGroup },
      key: { name: 'cmk-key', type: 'RSA', size: 2048 },
      identity: { type: 'SystemAssigned' },
      pinVersion: false,
      requester: PEOPLE.requester,
      policy: testPolicy({ alwaysApprove: ['configure'] }),
    });
    const waiting = await waitForApproval(handle);
    await server.stop();
    server = await startDevServer({ cli: ensureTemporalCli().path, port, dbFile });
    const again = await waitForApproval(handle);
    const accepted = await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);
    const keySource = (
      s.local.state.getStorageAccount(account.subscriptionId, account.resourceGroup, account.name) as {
        properties: { encryption: { keySource: string } };
      }
    ).properties.encryption.keySource;
    rows.push({
      case: 'run waiting for approval across a server restart',
      expected: 'same run, approval accepted, succeeded, CMK on',
      got: `${again.runId === waiting.runId ? 'same run' : 'another run'}, ${accepted.approval.decisions.length} decision, ${result.outcome}, ${keySource}`,
      pass:
        again.runId === waiting.runId &&
        accepted.approval.decisions.length === 1 &&
        result.outcome === 'succeeded' &&
        keySource === 'Microsoft.Keyvault',
    });
    assert.equal(again.runId, waiting.runId, 'the same run is still waiting');
    assert.equal(accepted.approval.decisions.length, 1);
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(keySource, 'Microsoft.Keyvault');
  });
});
