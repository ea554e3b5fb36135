/**
 * Records the happy-path history of every runbook into test/histories/<workflowType>.json (and a
 * revoke whose approval lapses because Azure held a grant it did not list), so the replay test
 * fails CI when a code change would break workflows already running. Runs start as the bot starts
 * them (signed, on a worker that holds the policy). Run with `npx tsx scripts/record-histories.ts`
 * after an intended change behind `patched`; first rename each earlier recording to say which of
 * the current recording's patches its runs were started without
 * (`<name>[.<rules>].without-<patch id>….json`), so runs of every version keep replaying. Runs the
 * bot starts now name a rules baseline (src/shared/rules.ts) and are saved as `<name>.<rules>.json`;
 * a fleet (two accounts on one key) is also started without one, the current recording every patch is checked in. Names given as
 * arguments (e.g. `changeKey.undo-failed`) record only those; the others run but are not saved.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Person } from '../src/shared/approval';
import { WORKFLOW_TYPES, type RunResult } from '../src/shared/runbooks';
import { RULES_MEMO, rulesMemo } from '../src/shared/rules';
import { SCHEDULED_ROTATION_WORKFLOW } from '../src/shared/start';
import { PEOPLE, startStack, type Stack } from '../test/helpers/stack';
import { testEnv } from '../test/helpers/temporal';
import { signedScheduleInput, signedStartOptions } from '../test/helpers/trust';
import { decide, waitForApproval, waitForStatus } from '../test/workflows/support';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'histories');

/** A history as JSON, with this checkout's path cut out of stack traces (they name files relative to the repository). */
function historyText(json: unknown): string {
  return `${JSON.stringify(json, null, 1).split(`${ROOT}/`).join('')}\n`;
}
const base = {
  requester: PEOPLE.requester as Person,
  conversation: { id: 'conv-record' },
};

async function approve(handle: WorkflowHandle): Promise<void> {
  await waitForApproval(handle);
  await decide(handle, PEOPLE.alice, 'approve');
}

/** The first child run `parent` started, from its history. */
async function firstChildOf(stack: Stack, parent: WorkflowHandle): Promise<WorkflowHandle> {
  const { events } = await parent.fetchHistory();
  // In the order the parent started them (their started events may arrive in another).
  const started = events
    ?.flatMap((e) =>
      e.childWorkflowExecutionStartedEventAttributes ? [e.childWorkflowExecutionStartedEventAttributes] : [],
    )
    .sort((a, b) => Number(a.initiatedEventId) - Number(b.initiatedEventId))[0]?.workflowExecution;
  if (!started?.workflowId) throw new Error(`${parent.workflowId} started no child run`);
  return stack.client.workflow.getHandle(started.workflowId, started.runId ?? undefined);
}

/** The recordings asked for on the command line; all when none is named. */
const wanted = process.argv.slice(2);

async function save(
  stack: Stack,
  name: string,
  handle: WorkflowHandle,
  outcome: RunResult['outcome'] = 'succeeded',
): Promise<void> {
  // A failed run ends as a failed workflow whose details carry its result.
  const result = (await handle.result().catch((error: unknown) => {
    const details = (error as { cause?: { details?: unknown[] } }).cause?.details;
    if (!details?.[0]) throw error;
    return details[0];
  })) as RunResult;
  if (result.outcome !== outcome) throw new Error(`${name} ended ${result.outcome}: ${result.message}`);
  if (wanted.length && !wanted.includes(name)) return;
  const latest = stack.client.workflow.getHandle(handle.workflowId);
  const history = await latest.fetchHistory();
  const json = temporal.api.history.v1.History.fromObject(history).toJSON();
  // A run started under a rules baseline is recorded as such; runs without one as they were.
  const rules = (await latest.describe()).memo?.[RULES_MEMO];
  const file = typeof rules === 'string' ? `${name}.${rules}` : name;
  writeFileSync(path.join(OUT, `${file}.json`), historyText(json));
  process.stdout.write(`recorded ${file} (${history.events?.length ?? 0} events)\n`);
}

async function main(): Promise<void> {
  const stack = await startStack();
  const { azure } = stack;
  try {
    const fresh = azure.addAccount('strecordconfigure');
    const configure = await stack.start('configure', {
      ...base,
      account: fresh,
      vault: { name: 'kv-record' },
      key: { name: 'cmk-key', type: 'RSA', size: 3072 },
      identity: { type: 'SystemAssigned' },
      pinVersion: false,
    });
    await approve(configure);
    await save(stack, 'configureCmk', configure);

    await save(
      stack,
      'rotateKey',
      await stack.start('rotate', {
        ...base,
        account: azure.addCmkAccount('strecordrotate', { pinned: true }),
      }),
    );

    const change = await stack.start('changeKey', {
      ...base,
      account: azure.addCmkAccount('strecordchange'),
      key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
      pinVersion: true,
    });
    await approve(change);
    await save(stack, 'changeKey', change);

    // A switch that fails and whose switch-back fails too: the undo reports what Azure holds.
    azure.failNext('enableCmk', 'KeyAccessNotGranted', 'The account identity cannot use the key yet.');
    azure.failNext('restoreEncryption', 'AuthorizationFailed', "The runbook's identity may not write.");
    const undoFailed = await stack.start('changeKey', {
      ...base,
      account: azure.addCmkAccount('strecordundofailed'),
      key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
      pinVersion: true,
    });
    await approve(undoFailed);
    await save(stack, 'changeKey.undo-failed', undoFailed, 'failed');

    const revoke = await stack.start('revoke', {
      ...base,
      account: azure.addCmkAccount('strecordrevoke'),
      disableKey: true,
    });
    await approve(revoke);
    await save(stack, 'revokeAccess', revoke);

    const lapsing = azure.addCmkAccount('strecordrevokelapse');
    azure.failNext(
      'revokeAccess',
      'RevocationSetChanged',
      "Revoking strecordrevokelapse's key access would remove more than was approved. Nothing was deleted.",
    );
    const lapsed = await stack.start('revoke', { ...base, account: lapsing, disableKey: true });
    await approve(lapsed);
    await waitForStatus(lapsed, (st) => st.approval.state === 'pending' && !!st.approval.lapsedReason);
    await decide(lapsed, PEOPLE.bob, 'approve');
    await save(stack, 'revokeAccess.lapsed', lapsed);

    const disable = await stack.start('disable', {
      ...base,
      account: azure.addCmkAccount('strecorddisable'),
    });
    await approve(disable);
    await save(stack, 'disableCmk', disable);

    await save(
      stack,
      'setRotationPolicy',
      await stack.start('setRotationPolicy', {
        ...base,
        account: azure.addCmkAccount('strecordpolicy'),
        rotateAfter: '90d',
      }),
    );

    // A fleet asks for one approval of its plan before it rotates.
    // Two accounts on one key: the fleet makes its new version, then moves both onto it.
    const fleetOf = (a: string, b: string) => {
      const first = azure.addCmkAccount(a);
      return { ...base, accounts: [first, azure.addCmkAccount(b, { sharesKeyWith: first })], concurrency: 2 };
    };
    const fleet = await stack.start('fleetRotate', fleetOf('strecordfleeta', 'strecordfleetb'));
    await approve(fleet);
    await save(stack, 'fleetRotate', fleet);
    // The same fleet started without rules, as a bot before them started it: it records a marker
    // for every patch it asks, so its recording is the current one the others are checked against.
    const { memo: _rules, ...unruled } = await signedStartOptions(
      'fleetRotate',
      fleetOf('strecordfleetc', 'strecordfleetd'),
      stack.taskQueue,
    );
    const plainFleet = await stack.client.workflow.start(WORKFLOW_TYPES.fleetRotate, unruled);
    await approve(plainFleet);
    await save(stack, 'fleetRotate', plainFleet);
    // A fleet's rotation is a child run acting on the fleet's start proof (checked once, by the fleet).
    await save(stack, 'rotateKey.fleet-child', await firstChildOf(stack, fleet));

    const scheduled = await stack.client.workflow.start(SCHEDULED_ROTATION_WORKFLOW, {
      workflowId: 'record-scheduled-rotation',
      taskQueue: stack.taskQueue,
      // A schedule's tick carries its period (busy retries, one rotation of a key per period).
      args: [
        {
          ...(await signedScheduleInput(azure.addCmkAccount('strecordschedule'), PEOPLE.requester)),
          everyMs: 7 * 24 * 3_600_000,
        },
      ],
      // As a rotation schedule's action starts it.
      memo: rulesMemo(),
    });
    await save(stack, SCHEDULED_ROTATION_WORKFLOW, scheduled);
  } finally {
    await stack.close();
    await (await testEnv()).teardown();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
