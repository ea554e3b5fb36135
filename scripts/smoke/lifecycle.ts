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
import { createAzureClients, type ActivityTiming, type AzureClients } from '../../src/activities';
import { accountId, type AccountRef } from '../../src/shared/accounts';
import type { StepId } from '../../src/shared/plan';
import type { RunResult } from '../../src/shared/runbooks';
import { listKeyVersions, readCanary, readEncryption, waitForBlobWrite } from './checks';
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

/** One lifecycle step of a lane. */
interface LaneStep {
  step: string;
  command: string;
  /** The smoke's own reading of Azure after the run: undefined when it is as expected. */
  check: () => Promise<string | undefined>;
  /** From which step's end to which step's end access changed and Azure honoured it. */
  propagation?: { from: StepId[]; to: StepId; what: string };
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
  const timed = async <T>(
    lane: string,
    step: string,
    work: () => Promise<T>,
    seen?: (t: T) => number | undefined,
  ) => {
    if (o.signal?.aborted) throw new Error('interrupted before this step');
    const started = Date.now();
    o.log(`${lane}: ${step} …`);
    const value = await work();
    const propagationSeconds = seen?.(value);
    rows.push({
      lane,
      step,
      outcome: 'done',
      azure: 'ok',
      seconds: (Date.now() - started) / 1000,
      ...(propagationSeconds === undefined
        ? {}
        : { propagationSeconds, propagation: 'role → first blob write' }),
    });
    return value;
  };
  o.log(`resource group ${names.resourceGroup} in ${o.location}, subscription ${o.subscriptionId}`);
  let stack: SmokeStack | undefined;
  try {
    await timed('setup', 'create resource group', () => createResourceGroup(c));
    const accounts = await timed('setup', 'create 2 storage accounts', () => createAccounts(c));
    const identityId = await timed('setup', 'create identity and access-policy vault', () =>
      createIdentityAndVault(c),
    );
    await timed('setup', 'grant the runbook Storage Blob Data Contributor', () => grantBlobDataRole(c));
    await timed(
      'setup',
      'wait until the role lets the runbook write blobs',
      async () => {
        const both = await Promise.all(
          [accounts.accountA, accounts.accountB].map((a) =>
            waitForBlobWrite(azure, a, { withinMs: o.setupTimeoutMs, pollMs: o.pollMs }),
          ),
        );
        return Math.max(...both);
      },
      (s) => s,
    );
    stack = await startSmokeStack({ ...o, azure, runTimeoutMs: o.runTimeoutMs, pollMs: o.pollMs });
    const lanes = [
      laneA(azure, names, accounts.accountA, o.confirmWithin),
      laneB(azure, names, accounts.accountB, identityId, o.confirmWithin),
    ];
    await Promise.all(
      lanes.map(({ lane, account, steps }) => runLane(stack!, { lane, account, steps }, rows, o)),
    );
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

/** Runs a lane's steps in order; after a failed step the rest are skipped. */
async function runLane(
  stack: SmokeStack,
  { lane, account, steps }: { lane: string; account: AccountRef; steps: LaneStep[] },
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

/** Expectation helper: the differences, or undefined when there are none. */
function differences(pairs: [string, unknown, unknown][]): string | undefined {
  const wrong = pairs
    .filter(([, got, want]) => got !== want)
    .map(([what, got, want]) => `${what} ${String(got)} (want ${String(want)})`);
  return wrong.length ? wrong.join('; ') : undefined;
}

function laneA(azure: AzureClients, names: SmokeNames, account: AccountRef, confirmWithin: string) {
  const vault = names.rbacVault;
  let versionsBefore: string[] = [];
  const encryption = () => readEncryption(azure, account);
  const steps: LaneStep[] = [
    {
      step: 'configure (system-assigned, RBAC, pinned)',
      command: `configure ${accountId(account)} --vault ${vault} --key cmk-smoke-a --pin-version`,
      propagation: { from: ['grant'], to: 'enable', what: 'grant → Storage wraps with the key' },
      check: async () => {
        const e = await encryption();
        versionsBefore = await listKeyVersions(azure, vault, 'cmk-smoke-a');
        return differences([
          ['key source', e.keySource, 'Microsoft.Keyvault'],
          ['key', e.keyName, 'cmk-smoke-a'],
          ['version', e.keyVersion, versionsBefore.at(-1)],
          ['user identity', e.userAssignedIdentity, undefined],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]);
      },
    },
    {
      step: 'rotate',
      command: `rotate ${accountId(account)}`,
      check: async () => {
        const versions = await listKeyVersions(azure, vault, 'cmk-smoke-a');
        return differences([
          ['versions', versions.length, versionsBefore.length + 1],
          ['version in use', (await encryption()).keyVersion, versions.at(-1)],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]);
      },
    },
    {
      step: 'change key',
      command: `change-key ${accountId(account)} --key cmk-smoke-b`,
      propagation: { from: ['grant'], to: 'switch', what: 'grant → Storage wraps with the new key' },
      check: async () =>
        differences([
          ['key', (await encryption()).keyName, 'cmk-smoke-b'],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]),
    },
    ...accessSteps(azure, account, confirmWithin, 'cmk-smoke-b'),
  ];
  return { lane: 'A', account, steps };
}

function laneB(
  azure: AzureClients,
  names: SmokeNames,
  account: AccountRef,
  identityId: string,
  confirmWithin: string,
) {
  const steps: LaneStep[] = [
    {
      step: 'configure (user-assigned, access policy, versionless)',
      command: `configure ${accountId(account)} --vault ${names.accessPolicyVault} --key cmk-smoke-c --user-identity ${identityId}`,
      propagation: { from: ['grant'], to: 'enable', what: 'grant → Storage wraps with the key' },
      check: async () => {
        const e = await readEncryption(azure, account);
        return differences([
          ['key source', e.keySource, 'Microsoft.Keyvault'],
          ['key', e.keyName, 'cmk-smoke-c'],
          ['version', e.keyVersion || '(versionless)', '(versionless)'],
          ['user identity', e.userAssignedIdentity?.toLowerCase(), identityId.toLowerCase()],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]);
      },
    },
    ...accessSteps(azure, account, confirmWithin, 'cmk-smoke-c'),
  ];
  return { lane: 'B', account, steps };
}

/** Revoke, restore and disable, the same on both lanes. */
function accessSteps(
  azure: AzureClients,
  account: AccountRef,
  confirmWithin: string,
  key: string,
): LaneStep[] {
  return [
    {
      step: 'revoke',
      command: `revoke ${accountId(account)} --confirm-within ${confirmWithin}`,
      propagation: { from: ['revoke', 'disableKey'], to: 'probe', what: 'revoke → first denied canary read' },
      check: async () => differences([['canary', await readCanary(azure, account), 'denied']]),
    },
    {
      step: 'restore access',
      command: `restore-access ${accountId(account)}`,
      propagation: { from: ['grant', 'enableKey'], to: 'probe', what: 'restore → canary readable again' },
      check: async () =>
        differences([
          ['key', (await readEncryption(azure, account)).keyName, key],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]),
    },
    {
      step: 'disable',
      command: `disable ${accountId(account)}`,
      check: async () =>
        differences([
          ['key source', (await readEncryption(azure, account)).keySource, 'Microsoft.Storage'],
          ['canary', await readCanary(azure, account), 'allowed'],
        ]),
    },
  ];
}
