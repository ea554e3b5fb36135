/**
 * Kill-at-every-boundary for a runbook that acts on an account already on CMK: each case
 * configures a fresh account (no kill), then runs the runbook once and SIGKILLs the worker after
 * its kth Azure activity. The yardstick is a run of the same runbook that was not killed: a killed
 * run must end the same way, leave Azure in the same state and make exactly the same successful
 * writes, operation by operation, as the local Azure's request log counts them — no write
 * repeated by a retry, none skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AccountRef } from '../../src/shared/accounts';
import type { Operation } from '../../src/shared/runbooks';
import type { InputByOperation } from '../../src/shared/start';
import { beforeAll } from '../kit/suite';
import { startKillHarness, type KillHarness } from './kill-harness';
import { approvalsBefore, completedAzureActivities, printTable, type Row } from './support';

/** What one runbook's suite says about its runs. */
export interface RunbookUnderKill<O extends Operation> {
  operation: O;
  input(h: KillHarness, account: AccountRef, vault: string): InputByOperation[O];
  /** The account's state after the run, as the local Azure holds it (compared with the clean run). */
  state(h: KillHarness, account: AccountRef, vault: string): Record<string, unknown>;
  /** What runs (unkilled) after configure and before the runbook, e.g. the revoke a restore undoes. */
  prepare?(h: KillHarness, account: AccountRef, vault: string): Promise<void>;
  /**
   * The activities that make this runbook's destructive writes: each must be scheduled only after
   * the operation's quorum of approvers approved, as the run's history records it.
   */
  destructive?: readonly string[];
}

/** Successful writes per operation, counted from the request log. */
function writeCounts(h: KillHarness): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of h.local.requestLog.writes()) {
    if (e.status >= 300) continue;
    counts.set(e.operation, (counts.get(e.operation) ?? 0) + 1);
  }
  return counts;
}

function delta(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of [...after].sort(([a], [b]) => a.localeCompare(b))) {
    const d = n - (before.get(op) ?? 0);
    if (d > 0) out[op] = d;
  }
  return out;
}

/**
 * Runs the clean case and then one case per boundary, pushing a row per case; asserts each.
 * Boundaries are shared out among the lanes, each a harness of its own (local Azure, worker,
 * task queue), so a kill in one lane never touches another lane's run or request log.
 */
export async function killAtEveryBoundary<O extends Operation>(
  lanes: readonly KillHarness[],
  runbook: RunbookUnderKill<O>,
  rows: Row[],
): Promise<void> {
  const once = async (h: KillHarness, killAfter?: number) => {
    const account = h.newAccount();
    const vault = h.vaultName();
    const configured = await h.drive(await h.start('configure', h.configureInput(account, vault)));
    assert.equal(configured.result.outcome, 'succeeded', configured.result.message);
    await runbook.prepare?.(h, account, vault);
    const before = writeCounts(h);
    const kills = h.worker.kills;
    const handle = await h.start(runbook.operation, runbook.input(h, account, vault));
    const { result, at } = await h.drive(handle, killAfter);
    for (const gate of await approvalsBefore(handle, runbook.destructive ?? []))
      assert.ok(
        gate.approvers.length >= h.quorum(runbook.operation),
        `${gate.activity} was scheduled after ${gate.approvers.length} approval(s) in history, below the quorum of ${h.quorum(runbook.operation)}`,
      );
    return {
      handle,
      at,
      message: result.message,
      got: {
        outcome: result.outcome as string,
        kills: h.worker.kills - kills,
        writes: delta(writeCounts(h), before),
        state: runbook.state(h, account, vault),
      },
    };
  };
  const clean = await once(lanes[0]!);
  assert.ok(Object.keys(clean.got.writes).length > 0, `a clean ${runbook.operation} wrote nothing`);
  const boundaries = await completedAzureActivities(clean.handle);
  const show = (g: typeof clean.got): string =>
    `${g.outcome}, ${g.kills} kill, ${Object.entries(g.writes)
      .map(([op, n]) => `${op}×${n}`)
      .join(' ')}`;
  rows.push({ case: 'no kill', expected: '-', got: show(clean.got), pass: true });
  const want = { ...clean.got, kills: 1 };
  const queue = boundaries.map((_, i) => i + 1);
  const cases = new Map<number, Awaited<ReturnType<typeof once>>>();
  await Promise.all(
    lanes.map(async (h) => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) cases.set(k, await once(h, k));
    }),
  );
  for (const [k, run] of [...cases].sort(([a], [b]) => a - b))
    rows.push({
      case: `killed after #${k} ${run.at ?? '(run ended first)'}`,
      expected: show(want),
      got: show(run.got),
      pass: JSON.stringify(run.got) === JSON.stringify(want),
    });
  for (const [k, run] of [...cases].sort(([a], [b]) => a - b))
    assert.deepEqual(run.got, want, `${runbook.operation} killed after #${k} ${run.at}: ${run.message}`);
}

interface ArmAccount {
  identity?: { principalId?: string };
  properties: { encryption: { keySource: string; keyvaultproperties?: { keyname?: string } } };
}

/** An account's encryption, its identity's grants and the versions of `cmk-key` in its vault. */
export type AccountState = {
  keySource: string;
  keyName: string;
  grants: number;
  versions: number;
  enabledVersions: number;
};

/** What an account's encryption and its identity's grants look like now. */
export function accountState(h: KillHarness, account: AccountRef, vault: string): AccountState {
  const arm = h.local.state.getStorageAccount(
    account.subscriptionId,
    account.resourceGroup,
    account.name,
  ) as unknown as ArmAccount;
  const principal = arm.identity?.principalId ?? 'none';
  const versions = h.local.state.listKeyVersions(vault, 'cmk-key') as unknown as Array<{
    attributes?: { enabled?: boolean };
  }>;
  return {
    keySource: arm.properties.encryption.keySource,
    keyName: arm.properties.encryption.keyvaultproperties?.keyname ?? 'none',
    grants: h.local.state.listRoleAssignments().filter((r) => JSON.stringify(r).includes(principal)).length,
    versions: versions.length,
    enabledVersions: versions.filter((v) => v.attributes?.enabled !== false).length,
  };
}

/**
 * A suite's kill harness: started before its tests, closed after them, and then the suite's
 * table printed under `title`.
 */
export function suiteHarness(title: string, rows: Row[]): KillHarness {
  const h = beforeAll(() => startKillHarness());
  after(() => printTable(title, rows));
  return h;
}

/** Lanes a kill suite runs its boundaries on (CMK_CHAOS_LANES, default 2). */
export function chaosLanes(): number {
  const n = Number(process.env.CMK_CHAOS_LANES ?? 2);
  return Number.isInteger(n) && n >= 1 ? n : 2;
}

/** One runbook's kill suite: a describe block with its harnesses and closing table. */
export function describeKillSuite<O extends Operation>(suite: {
  name: string;
  operation: O;
  input: (h: KillHarness, account: AccountRef, vault: string) => InputByOperation[O];
  prepare?: (h: KillHarness, account: AccountRef, vault: string) => Promise<void>;
  destructive?: readonly string[];
}): void {
  const rows: Row[] = [];
  describe(`${suite.name} with its worker SIGKILLed at every activity boundary`, () => {
    const lanes: KillHarness[] = [];
    before(async () => {
      for (let i = 0; i < chaosLanes(); i++) lanes.push(await startKillHarness());
    });
    after(async () => {
      for (const h of lanes) await h.close();
      printTable(`Chaos: ${suite.name}, worker SIGKILLed after each Azure activity`, rows);
    });

    const gated = suite.destructive?.length
      ? ` and each destructive write (${suite.destructive.join(', ')}) scheduled only after the quorum's approvals in history`
      : '';
    test(`when the worker dies after each activity of ${suite.name}, then the run ends as an unkilled one does, with the same Azure state and every write made exactly once${gated}`, async () => {
      await killAtEveryBoundary(lanes, { ...suite, state: accountState }, rows);
    });
  });
}
