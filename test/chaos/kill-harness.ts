/**
 * The kill-at-every-boundary harness: the local Azure, a child-process worker, runs started the
 * way the bot starts them, and `drive`, which approves when asked and SIGKILLs the worker once a
 * chosen number of Azure activities have completed.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import type { AccountRef } from '../../src/shared/accounts';
import { quorumFor, statusQuery, type RunStatus } from '../../src/shared/approval';
import { DESTRUCTIVE_BY_NATURE } from '../../src/shared/approval-rules';
import {
  type ConfigureCmkInput,
  type Operation,
  type RunContext,
  type RunResult,
} from '../../src/shared/runbooks';
import type { InputByOperation } from '../../src/shared/start';
import { LOCAL, PEOPLE, resultOf, testPolicy } from '../helpers/stack';
import { quickAzure } from '../kit/azure';
import { localConfigure } from '../workflows/support';
import { testEnv, uniqueId } from '../helpers/temporal';
import { decideAs, startSigned } from '../helpers/trust';
import {
  completedAzureActivities,
  hurryPendingActivities,
  startChildWorker,
  type ChildWorker,
} from './support';
import { releaseTemporal, temporalAddress } from './temporal-address';

/** A kill harness for one test file. */
export interface KillHarness {
  local: LocalAzure;
  client: Client;
  worker: ChildWorker;
  context: RunContext;
  taskQueue: string;
  start<O extends Operation>(operation: O, input: InputByOperation[O]): Promise<WorkflowHandle>;
  newAccount(): AccountRef;
  vaultName(): string;
  configureInput(account: AccountRef, vault: string): ConfigureCmkInput;
  /** A change of the account's key to a new `cmk-key-2` in the same vault, versionless. */
  changeKeyInput(account: AccountRef, vault: string): InputByOperation['changeKey'];
  /** Runs to the end, approving when asked, killing the worker once after `killAfter` Azure activities. */
  drive(handle: WorkflowHandle, killAfter?: number): Promise<{ result: RunResult; at?: string }>;
  /** Approvals the worker's policy asks of an operation (two for the destructive ones). */
  quorum(operation: Operation): number;
  /** Successful writes of an operation (optionally on one host) in the request log. */
  okWrites(operation: string, host?: string): number;
  close(): Promise<void>;
}

/**
 * The run's status query. Temporal refuses a query while the run's last workflow task failed or
 * timed out (FAILED_PRECONDITION) until a worker completes the task again: with the 2 s task
 * timeout the harness sets so a dead worker's task moves on quickly, a loaded machine can time
 * out a live worker's task too. That refusal is waited out; one that lasts a minute (a task that
 * keeps failing, e.g. nondeterminism) is not.
 */
export async function statusOf(handle: WorkflowHandle): Promise<RunStatus> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await handle.query(statusQuery);
    } catch (error) {
      const refused = (error as { cause?: { code?: number } }).cause?.code === 9;
      if (!refused || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Where the harness's worker and client reach Temporal, when not the suite's shared dev server. */
export interface KillHarnessOptions {
  temporalAddress: string;
  client: Client;
}

/** Starts the local Azure and a killable worker on a fresh task queue. */
export async function startKillHarness(server?: KillHarnessOptions): Promise<KillHarness> {
  const local = await startLocalAzure(quickAzure('local-azure-chaos'));
  const address = server?.temporalAddress ?? (await temporalAddress());
  const client = server?.client ?? (await testEnv()).client;
  const taskQueue = uniqueId('tq-chaos-kill');
  // Destructive writes wait for two approvers, so "approved" in history means a quorum, not a click.
  const policy = testPolicy({
    alwaysApprove: ['configure'],
    quorum: Object.fromEntries(DESTRUCTIVE_BY_NATURE.map((o) => [o, 2])),
  });
  const worker = await startChildWorker({ address, local, taskQueue, policy });
  const context: RunContext = { requester: PEOPLE.requester, conversation: { id: 'chaos' } };

  async function drive(
    handle: WorkflowHandle,
    killAfter?: number,
  ): Promise<{ result: RunResult; at?: string }> {
    let at: string | undefined;
    if (killAfter !== undefined) worker.hold((await handle.describe()).runId, killAfter);
    for (;;) {
      const { status } = await handle.describe();
      if (status.name !== 'RUNNING') break;
      if (killAfter !== undefined && at === undefined) {
        const done = await completedAzureActivities(handle);
        if (done.length >= killAfter) {
          await worker.kill();
          at = done[killAfter - 1];
          await hurryPendingActivities(client, handle);
          await worker.start();
        }
      }
      const run = await statusOf(handle);
      if (run.stage === 'awaiting-approval' && run.approval.state === 'pending') {
        const next = [PEOPLE.alice, PEOPLE.bob].find(
          (p) => !run.approval.decisions.some((d) => d.approverAadId === p.aadObjectId.toLowerCase()),
        );
        if (next) await decideAs(handle, next, 'approve');
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return { result: await resultOf(handle), ...(at ? { at } : {}) };
  }

  return {
    local,
    client,
    worker,
    context,
    taskQueue,
    start(operation, input) {
      // A workflow task the dead worker held is handed on after this, not after the 10 s default.
      return startSigned(client, operation, input, taskQueue, { workflowTaskTimeout: '2s' });
    },
    newAccount() {
      const ref = {
        subscriptionId: LOCAL.subscriptionId,
        resourceGroup: LOCAL.storageGroup,
        name: `stchaos${randomUUID().replace(/-/g, '').slice(0, 12)}`,
      };
      local.state.addStorageAccount(ref);
      return ref;
    },
    vaultName: () => `kv-chaos-${randomUUID().slice(0, 8)}`,
    configureInput: (account, vault) => localConfigure(account, vault, 'cmk-key', context),
    changeKeyInput: (account, vault) => ({
      account,
      vault: { name: vault, resourceGroup: LOCAL.keysGroup },
      key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
      pinVersion: false,
      ...context,
    }),
    drive,
    quorum: (operation) => quorumFor(policy, operation),
    okWrites: (operation, host) =>
      local.requestLog
        .writes({ operation })
        .filter((e) => e.status < 300 && (host === undefined || e.host.toLowerCase() === host.toLowerCase()))
        .length,
    async close() {
      await worker.close();
      await local.close();
      if (!server) await releaseTemporal();
    },
  };
}
