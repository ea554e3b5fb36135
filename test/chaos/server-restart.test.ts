import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PEOPLE, resultOf, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { decide, localConfigure, waitForApproval } from '../workflows/support';
import { printTable, type Row } from './support';
import { startRestartableTemporal, type RestartableTemporal } from './temporal-address';

const rows: Row[] = [];

describe('the Temporal server restarts while a run waits for approval', () => {
  let temporal: RestartableTemporal;
  let s: LocalStack;

  before(async () => {
    temporal = await startRestartableTemporal('chaos-server');
    s = await startLocalStack({ env: temporal.env, throttling: false });
  });
  after(async () => {
    await s?.close();
    await temporal?.close();
    printTable('Chaos: Temporal server (SQLite) restarted during an approval wait', rows);
  });

  test('when the server restarts on the same database while a run waits, then the run survives and the approval after the restart is accepted', async () => {
    const account = s.newAccount('strestart');
    const vault = s.vaultName('kv-restart');
    const handle = await s.start(
      'configure',
      localConfigure(account, vault, 'cmk-key', {
        requester: PEOPLE.requester,
        policy: testPolicy({ alwaysApprove: ['configure'] }),
      }),
    );
    const waiting = await waitForApproval(handle);
    await temporal.restart();
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
