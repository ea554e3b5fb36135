/**
 * The Temporal server (SQLite file) restarted in the middle of each destructive step: the step's
 * activity has made its write against Azure and its answer is held in the worker until the
 * server is back, so the write's result reaches a server that went down after scheduling it. The
 * run must then finish on its own history: each write once in the request log, the destructive
 * activity scheduled only after the quorum's approvals, a result that says what Azure holds.
 * A fleet rotation restarted mid-way is here too (one server for the file, restarted in turn).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AccountRef } from '../../src/shared/accounts';
import type { Operation } from '../../src/shared/runbooks';
import type { InputByOperation } from '../../src/shared/start';
import { PEOPLE } from '../helpers/stack';
import { decideAs } from '../helpers/trust';
import { fleetInterrupted, showFleet } from './fleet-under-chaos';
import { startKillHarness, statusOf, type KillHarness } from './kill-harness';
import { accountState } from './kill-runbook';
import { approvalsBefore, printTable, type Row } from './support';
import { startRestartableTemporal, type RestartableTemporal } from './temporal-address';

const rows: Row[] = [];

interface DestructiveStep<O extends Operation> {
  name: string;
  operation: O;
  input(h: KillHarness, account: AccountRef, vault: string): InputByOperation[O];
  /** The activity whose write is in flight when the server goes down. */
  activity: string;
  /** Successful writes the run makes, by operation (as an unkilled run makes them). */
  writes: Record<string, number>;
}

const STEPS = [
  {
    name: 'revokeAccess --disable-key, removing the grant',
    operation: 'revoke',
    input: (h, account) => ({ account, disableKey: true, ...h.context }),
    activity: 'revokeAccess',
    writes: { 'keys.update': 1, 'roleAssignments.delete': 1 },
  } satisfies DestructiveStep<'revoke'>,
  {
    name: 'revokeAccess --disable-key, disabling the key version',
    operation: 'revoke',
    input: (h, account) => ({ account, disableKey: true, ...h.context }),
    activity: 'disableKeyVersion',
    writes: { 'keys.update': 1, 'roleAssignments.delete': 1 },
  } satisfies DestructiveStep<'revoke'>,
  {
    name: 'disableCmk, switching the account to Microsoft-managed keys',
    operation: 'disable',
    input: (h, account) => ({ account, ...h.context }),
    activity: 'disableCmk',
    writes: { 'storageAccounts.update': 1 },
  } satisfies DestructiveStep<'disable'>,
  {
    name: 'changeKey, switching the account to the new key',
    operation: 'changeKey',
    input: (h, account, vault) => h.changeKeyInput(account, vault),
    activity: 'enableCmk',
    writes: { 'keys.create': 1, 'roleAssignments.create': 1, 'storageAccounts.update': 1 },
  } satisfies DestructiveStep<'changeKey'>,
];

function writeCounts(h: KillHarness): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of h.local.requestLog.writes())
    if (e.status < 300) counts.set(e.operation, (counts.get(e.operation) ?? 0) + 1);
  return counts;
}

describe('the Temporal server restarts in the middle of a destructive step', () => {
  let temporal: RestartableTemporal;
  let h: KillHarness;
  const restart = (): Promise<void> => temporal.restart();

  before(async () => {
    temporal = await startRestartableTemporal('chaos-mid-step');
    h = await startKillHarness({ temporalAddress: temporal.address, client: temporal.env.client });
  });
  after(async () => {
    await h?.close();
    await temporal?.close();
    printTable('Chaos: Temporal server (SQLite) restarted in the middle of a step', rows);
  });

  for (const step of STEPS)
    test(`when the server restarts while ${step.name} has written and not yet answered, then the run finishes truthfully with each write once and the quorum's approvals before it in history`, async () => {
      const account = h.newAccount();
      const vault = h.vaultName();
      const configured = await h.drive(await h.start('configure', h.configureInput(account, vault)));
      assert.equal(configured.result.outcome, 'succeeded', configured.result.message);
      const before = writeCounts(h);
      const handle = await h.start(step.operation, step.input(h, account, vault));
      const held = h.worker.holdIn((await handle.describe()).runId, step.activity);
      let holding = false;
      void held.then(() => (holding = true));
      // Approve as asked (two approvers for a destructive operation) until the step is in flight.
      while (!holding) {
        const run = await statusOf(handle);
        if (run.stage === 'awaiting-approval' && run.approval.state === 'pending') {
          const next = [PEOPLE.alice, PEOPLE.bob].find(
            (p) => !run.approval.decisions.some((d) => d.approverAadId === p.aadObjectId.toLowerCase()),
          );
          if (next) await decideAs(handle, next, 'approve');
        }
        if (run.stage === 'done') assert.fail(`the run ended before ${step.activity}: ${run.stage}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await restart();
      h.worker.release((await handle.describe()).runId);
      const { result } = await h.drive(handle);
      const writes = Object.fromEntries(
        [...writeCounts(h)]
          .map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const)
          .filter(([, n]) => n > 0)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
      const gates = await approvalsBefore(handle, [step.activity]);
      const state = accountState(h, account, vault);
      const got = {
        outcome: result.outcome as string,
        writes,
        approvals: gates.map((g) => g.approvers.length),
      };
      const want = { outcome: 'succeeded', writes: step.writes, approvals: [h.quorum(step.operation)] };
      rows.push({
        case: step.name,
        expected: `succeeded, ${JSON.stringify(step.writes)}, ${want.approvals[0]} approvals`,
        got: `${got.outcome}, ${JSON.stringify(writes)}, ${got.approvals.join('+')} approvals`,
        pass: JSON.stringify(got) === JSON.stringify(want),
      });
      assert.deepEqual(got, want, result.message);
      // The result says what Azure now holds.
      if (step.operation === 'disable') {
        assert.equal(state.keySource, 'Microsoft.Storage');
        assert.match(result.message, /Microsoft-managed|Microsoft\.Storage/i);
      }
      if (step.operation === 'revoke') {
        assert.equal(state.grants, 0, 'the grant is gone');
        assert.equal(state.enabledVersions, 0, 'the key version is disabled');
      }
      if (step.operation === 'changeKey') assert.equal(state.keyName, 'cmk-key-2');
    });

  test('when the server restarts after the first of four fleet rotations, then the fleet finishes with one rotate per key, one PATCH per account and a progress card of four succeeded', async () => {
    const { got, want, interruptedAfter, result } = await fleetInterrupted(h, restart);
    rows.push({
      case: `fleet, server restarted after ${interruptedAfter} of 4 accounts`,
      expected: showFleet(want),
      got: showFleet(got),
      pass: JSON.stringify(got) === JSON.stringify(want),
    });
    assert.deepEqual(got, want, result.message);
  });
});
