/**
 * The smoke run: make throwaway resources, drive the whole CMK lifecycle through the product
 * (chat command → plan card → approval click → runbook on the worker), read Azure after each
 * step, measure propagation, and delete what it made. Two lanes run side by side:
 * A — system-assigned identity, RBAC grant on a vault the runbook creates, pinned:
 *     configure, rotate, change key, revoke, restore, disable;
 * B — user-assigned identity, access-policy grant on a vault the smoke creates, versionless:
 *     configure, revoke, restore, disable.
 */
import type { Agent } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createAzureClients, type ActivityTiming } from '../../src/activities';
import type { StepId } from '../../src/shared/plan';
import type { RunResult } from '../../src/shared/runbooks';
import { waitForBlobWrite } from './checks';
import { laneA, laneB, type Lane } from './lanes';
import { createResourceGroupsClient } from './resource-groups';
import {
  createAccounts,
  createIdentityAndVault,
  createResourceGroup,
  grantBlobDataRole,
  smokeNames,
  smokeTags,
  type SetupContext,
  type SmokeNames,
} from './resources';
import { cleanUp } from './cleanup';
import { startSmokeStack, type SmokeStack } from './stack';

/** One line of the smoke's table. */
export interface SmokeRow {
  lane: string;
  step: string;
  /** The runbook's outcome, `done` for setup steps, `failed`/`skipped` otherwise. */
  outcome: string;
  /** What the smoke's own reads of Azure found: `ok`, or the difference. */
  azure: string;
  seconds: number;
  /** Time from the access change to Azure honouring it, from the run's step times; absent where nothing propagates. */
  propagationSeconds?: number;
  /** What the propagation column measures for this row. */
  propagation?: string;
}

/** Everything a smoke run reports. */
export interface SmokeReport {
  resourceGroup: string;
  rows: SmokeRow[];
  passed: boolean;
  /** What stays in Azure afterwards, in words. */
  leftBehind: string[];
}

/** Where, as whom, and how patiently to run. */
export interface SmokeOptions {
  subscriptionId: string;
  location: string;
  tenantId: string;
  callerObjectId: string;
  credential: TokenCredential;
  /** HTTP agent for every Azure client (the local Azure's in tests); none on real Azure. */
  agent?: Agent;
  temporal: Pick<TestWorkflowEnvironment, 'client' | 'nativeConnection'>;
  /** Keep the resource group for inspection instead of deleting it. */
  keep: boolean;
  /** The revoke's confirmation window (chat's `--confirm-within`). */
  confirmWithin: string;
  /** Activity waits (production's unless told), the smoke's own poll interval, and its limits. */
  timing?: Partial<ActivityTiming>;
  pollMs: number;
  runTimeoutMs: number;
  setupTimeoutMs: number;
  log: (line: string) => void;
  /** Stops the run (Ctrl-C): the run in flight is cancelled, the rest skipped, and the clean-up still runs. */
  signal?: AbortSignal;
  /** Runs after the last step and before the clean-up (a test reads Azure's final state here). */
  beforeCleanup?: (names: SmokeNames) => Promise<void>;
}

/** Runs the smoke; never throws for a failed step (the report says it), only for a failed set-up of the stack. */
export async function runSmoke(o: SmokeOptions): Promise<SmokeReport> {
  const names = smokeNames();
  const azure = createAzureClients(
    {
      tenantId: o.tenantId,
      subscriptionIds: [o.subscriptionId],
      armEndpoint: 'https://management.azure.com',
    },
    { credential: o.credential, ...(o.agent ? { agent: o.agent } : {}) },
  );
  const groups = createResourceGroupsClient(
    o.credential,
    o.subscriptionId,
    o.agent ? { agent: o.agent } : {},
  );
  const c: SetupContext = {
    azure,
    groups,
    subscriptionId: o.subscriptionId,
    location: o.location,
    tenantId: o.tenantId,
    callerObjectId: o.callerObjectId,
    names,
    tags: smokeTags(names),
    pollMs: o.pollMs,
  };
  const rows: SmokeRow[] = [];
  o.log(`resource group ${names.resourceGroup} in ${o.location}, subscription ${o.subscriptionId}`);
  let stack: SmokeStack | undefined;
  try {
    const { accounts, identityId } = await setUp(c, rows, o);
    stack = await startSmokeStack({ ...o, azure, runTimeoutMs: o.runTimeoutMs, pollMs: o.pollMs });
    const lanes = [
      laneA(azure, names, accounts.accountA, o.confirmWithin),
      laneB(azure, names, accounts.accountB, identityId, o.confirmWithin),
    ];
    await Promise.all(lanes.map((lane) => runLane(stack!, lane, rows, o)));
    await o.beforeCleanup?.(names);
  } catch (error) {
    rows.push({
      lane: 'setup',
      step: 'set-up failed',
      outcome: 'failed',
      azure: (error as Error).message,
      seconds: 0,
    });
  } finally {
    await stack?.close();
  }
  const leftBehind = await cleanUp(c, { keep: o.keep, log: o.log });
  const passed = rows.every((r) => (r.outcome === 'succeeded' || r.outcome === 'done') && r.azure === 'ok');
  return { resourceGroup: names.resourceGroup, rows, passed, leftBehind };
}

/** Makes the throwaway resources, a row each, and waits until the caller's blob role works. */
async function setUp(
  c: SetupContext,
  rows: SmokeRow[],
  o: Pick<SmokeOptions, 'log' | 'signal' | 'setupTimeoutMs' | 'pollMs'>,
): Promise<{ accounts: Awaited<ReturnType<typeof createAccounts>>; identityId: string }> {
  const timed = async <T>(step: string, work: () => Promise<T>, propagated?: (t: T) => number) => {
    if (o.signal?.aborted) throw new Error('interrupted before this step');
    const started = Date.now();
    o.log(`setup: ${step} …`);
    const value = await work();
    const seconds = (Date.now() - started) / 1000;
    rows.push({
      lane: 'setup',
      step,
      outcome: 'done',
      azure: 'ok',
      seconds,
      ...(propagated
        ? { propagationSeconds: propagated(value), propagation: 'role → first blob write' }
        : {}),
    });
    return value;
  };
  await timed('create resource group', () => createResourceGroup(c));
  const accounts = await timed('create 2 storage accounts', () => createAccounts(c));
  const identityId = await timed('create identity and access-policy vault', () => createIdentityAndVault(c));
  await timed('grant the runbook Storage Blob Data Contributor', () => grantBlobDataRole(c));
  await timed(
    'wait until the role lets the runbook write blobs',
    async () => {
      const waits = [accounts.accountA, accounts.accountB].map((a) =>
        waitForBlobWrite(c.azure, a, { withinMs: o.setupTimeoutMs, pollMs: o.pollMs }),
      );
      return Math.max(...(await Promise.all(waits)));
    },
    (seconds) => seconds,
  );
  return { accounts, identityId };
}

/** Runs a lane's steps in order; after a failed step the rest are skipped. */
async function runLane(
  stack: SmokeStack,
  { lane, account, steps }: Lane,
  rows: SmokeRow[],
  o: Pick<SmokeOptions, 'log' | 'signal'>,
): Promise<void> {
  let failed = false;
  for (const s of steps) {
    if (failed || o.signal?.aborted) {
      rows.push({ lane, step: s.step, outcome: 'skipped', azure: '-', seconds: 0 });
      continue;
    }
    o.log(`${lane}: ${s.command}`);
    try {
      const run = await stack.run(lane, account, s.command, o.signal);
      const azure = run.result.outcome === 'succeeded' ? ((await s.check()) ?? 'ok') : run.result.message;
      const propagationSeconds = s.propagation
        ? secondsBetween(run.result, s.propagation.from, s.propagation.to)
        : undefined;
      rows.push({
        lane,
        step: s.step,
        outcome: run.result.outcome,
        azure,
        seconds: run.seconds,
        ...(propagationSeconds === undefined ? {} : { propagationSeconds, propagation: s.propagation!.what }),
      });
      failed = run.result.outcome !== 'succeeded' || azure !== 'ok';
    } catch (error) {
      rows.push({ lane, step: s.step, outcome: 'failed', azure: (error as Error).message, seconds: 0 });
      failed = true;
    }
  }
}

/** Seconds between the last done `from` step and the `to` step of a run, as the run recorded them. */
function secondsBetween(result: RunResult, from: StepId[], to: StepId): number | undefined {
  const done = result.steps.filter((s) => s.status === 'done');
  const start = done.filter((s) => from.includes(s.id)).at(-1);
  const end = done.find((s) => s.id === to);
  if (!start || !end) return undefined;
  return Math.max(0, (Date.parse(end.at) - Date.parse(start.at)) / 1000);
}
