/**
 * A fleet rotation's payloads stay bounded however many accounts it rotates: continue-as-new
 * carries counts and failures, never every account's outcome; the result and the `status`
 * query list a capped number of outcomes with counts. On the local Azure with no latency, with
 * the real activities and SDK clients, and with accounts sharing keys across runs of the chain.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { statusQuery } from '../../src/shared/approval';
import {
  addOutcome,
  FLEET_LISTED_FAILURES,
  FLEET_LISTED_SUCCESSES,
  groupAccounts,
  tallyOf,
  ungroupAccounts,
} from '../../src/shared/fleet-tally';
import type { FleetRotateInput } from '../../src/shared/runbooks';
import { seedFleet } from '../../bench/p1-seed';
import { PEOPLE, resultOf, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { armAccount, decide, waitForApproval } from './support';

/**
 * The stated bound: a result, a `status` answer and what a run hands on besides the accounts
 * still to rotate each stay under 64 KiB, whatever the fleet's size (at most 100 failures and
 * 20 successes are named, each a few hundred bytes). Temporal refuses payloads over 2 MB.
 */
const BOUND_BYTES = 64 * 1024;
/** What a continued run's input may exceed the first run's by: the carried counts and failures, a card id and the rotation id. */
const CARRY_BYTES = 2 * 1024;

const bytes = (payloads: temporal.api.common.v1.IPayloads | null | undefined): number =>
  payloads ? temporal.api.common.v1.Payloads.encode(payloads).finish().length : 0;

/** Every run of a continue-as-new chain: its input's size, and the result's size of the last. */
async function chainOf(
  s: LocalStack,
  handle: WorkflowHandle,
  firstRunId: string,
): Promise<{ inputs: number[]; result: number }> {
  const inputs: number[] = [];
  let result = 0;
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history = await s.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    runId = undefined;
    for (const e of history.events ?? []) {
      if (e.workflowExecutionStartedEventAttributes)
        inputs.push(bytes(e.workflowExecutionStartedEventAttributes.input));
      if (e.workflowExecutionContinuedAsNewEventAttributes)
        runId = e.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId ?? undefined;
      if (e.workflowExecutionCompletedEventAttributes)
        result = bytes(e.workflowExecutionCompletedEventAttributes.result);
      if (e.workflowExecutionFailedEventAttributes)
        result = JSON.stringify(e.workflowExecutionFailedEventAttributes.failure ?? {}).length;
    }
  }
  return { inputs, result };
}

describe('a fleet whose payloads stay bounded', () => {
  let s: LocalStack;
  before(async () => {
    s = await startLocalStack({ throttling: false, roleAssignmentPropagationMs: 0 });
  });
  after(async () => {
    await s.close();
  });

  test('when 20,000 outcomes are tallied, then the tally counts them all and names at most the capped failures', () => {
    const tally = tallyOf();
    const account = {
      subscriptionId: '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1',
      resourceGroup: 'rg',
      name: 'st',
    };
    for (let i = 0; i < 20_000; i++)
      addOutcome(tally, {
        account: { ...account, name: `st${i}` },
        outcome: i % 2 ? 'succeeded' : 'failed',
        message: `st${i} could not be rotated: a message of a typical length for a failed rotation.`,
      });
    assert.deepEqual(tally.counts, { failed: 10_000, succeeded: 10_000 });
    assert.equal(tally.failures.length, FLEET_LISTED_FAILURES);
    assert.ok(JSON.stringify(tally).length < BOUND_BYTES, `${JSON.stringify(tally).length} bytes`);
  });

  test('when accounts are handed on in compact form, then they come back the same and in order', () => {
    const refs = [
      { subscriptionId: 'a', resourceGroup: 'g1', name: 'one' },
      { subscriptionId: 'a', resourceGroup: 'g1', name: 'two' },
      { subscriptionId: 'a', resourceGroup: 'g2', name: 'three' },
      { subscriptionId: 'a', resourceGroup: 'g1', name: 'four' },
    ];
    assert.equal(groupAccounts(refs).length, 3);
    assert.deepEqual(ungroupAccounts(groupAccounts(refs)), refs);
  });

  test('when 60 accounts on 20 shared keys and one without CMK rotate in runs of 7, then every payload stays under the bound, the inputs do not grow with the accounts done, and each key gains exactly one version', async () => {
    const seeded = await seedFleet(s.local, 60, { keysPerVault: 20, accountsPerKey: 3 });
    const plain = s.newAccount('stplain');
    const input: FleetRotateInput = {
      accounts: [plain],
      // The seeded accounts in compact form, as a large fleet is started within the payload limit.
      groups: groupAccounts(seeded.map((f) => f.account)),
      accountsPerRun: 7,
      concurrency: 4,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    };
    const handle = await s.start('fleetRotate', input);
    const asked = await waitForApproval(handle);
    assert.equal(asked.plan?.fleet?.total, 61);
    assert.equal(asked.plan?.fleet?.rotate, 60);
    await decide(handle, PEOPLE.alice, 'approve');
    // A fleet with a skipped account fails; its result is in the failure's details.
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'failed', 'one account was skipped');
    assert.deepEqual(result.fleetCounts, { blocked: 1, succeeded: 60 });
    assert.ok((result.fleet?.length ?? 0) <= FLEET_LISTED_FAILURES + FLEET_LISTED_SUCCESSES);
    assert.deepEqual(
      result.fleet?.filter((o) => o.outcome !== 'succeeded').map((o) => o.account.name),
      [plain.name],
      'the failure is named',
    );

    const { inputs, result: resultBytes } = await chainOf(s, handle, handle.firstExecutionRunId);
    assert.ok(inputs.length >= 9, `it continued as new (${inputs.length} runs)`);
    const first = inputs[0]!;
    for (const [i, size] of inputs.entries()) {
      assert.ok(size <= first + CARRY_BYTES, `run ${i + 1}'s input is ${size} bytes; the first's ${first}`);
      assert.ok(size <= BOUND_BYTES + 32 * 61, `run ${i + 1}'s input is ${size} bytes`);
    }
    assert.ok(resultBytes > 0 && resultBytes <= BOUND_BYTES, `the result is ${resultBytes} bytes`);
    const status = await handle.query(statusQuery);
    const statusBytes = Buffer.byteLength(JSON.stringify(status));
    assert.ok(statusBytes <= BOUND_BYTES, `the status answer is ${statusBytes} bytes`);
    assert.deepEqual(status.fleet?.counts, { blocked: 1, succeeded: 60 });

    const versionsOf = (vault: string, key: string): string[] =>
      (s.local.state.data.vaults[vault.toLowerCase()]?.keys[key.toLowerCase()]?.versions ?? []).map(
        (v) => v.version,
      );
    const keys = new Set(seeded.map((f) => `${f.vaultName}/${f.keyName}`));
    assert.equal(keys.size, 20);
    for (const f of seeded) {
      const versions = versionsOf(f.vaultName, f.keyName);
      assert.equal(versions.length, 2, `${f.vaultName}/${f.keyName}: exactly one new version`);
      const pinned = armAccount(s, f.account).properties.encryption.keyvaultproperties?.keyversion;
      assert.notEqual(pinned, f.seedVersion, `${f.account.name} moved off its seeded version`);
      assert.equal(pinned, versions.at(-1), `${f.account.name} is pinned to its key's new version`);
    }
  });
});
