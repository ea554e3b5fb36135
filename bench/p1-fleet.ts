/**
 * P1: fleet rotation of N storage accounts pinned to a key version, under ARM's write bucket
 * (burst 200, refill 10/s) and read bucket (250, 25/s) as the local Azure emulates them.
 * Three ways on fresh copies of one seeded state: the `fleetRotate` runbook through the
 * production worker, a sequential script of the same SDK calls, and naive `Promise.all`.
 */
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { LocalAzure } from '../src/local-azure';
import type { LatencyRule } from '../src/local-azure/faults';
import {
  clearKeyPairStock,
  generateKeyPairs,
  stockKeyPairs,
  type KeyPairMaterial,
} from '../src/local-azure/rsa';
import type { AccountRef } from '../src/shared/accounts';
import type { WorkflowHandle } from '@temporalio/client';
import { decideUpdate, statusQuery, type ApprovalPolicy, type Person } from '../src/shared/approval';
import type { FleetRotateInput, RunResult } from '../src/shared/runbooks';
import { signedDecision, signedStartOptions } from '../test/helpers/trust';
import { check, progress, type BenchOutcome } from './report';
import { rotateWithScript } from './p1-script';
import { KEYS_PER_VAULT, seedFleet, type FleetAccount, type FleetLayout } from './p1-seed';
import { layoutBound } from './p1-bounds';
import {
  SCRATCH,
  startBenchAzure,
  startWorkerProcess,
  type BenchTemporal,
  type RowServers,
  type WorkerProcess,
} from './stack';
import { armStats, describeTimeline, type ArmStats } from './p1-stats';
import { cpuMeter, msPerAccount, type CpuSpent } from './cpu';

/** Options of {@link runP1}. */
export interface P1Options {
  accounts: number;
  /** The fleet's in-flight children; the workflow's default when absent. */
  concurrency: number | undefined;
  /** `azure`: the emulator answers about as fast as Azure does ({@link AZURE_LATENCY}); `none`: at once. */
  latency: 'azure' | 'none';
  /**
   * Accounts the sequential script rotates; its time for all is extrapolated linearly (a
   * sequential script never reaches the write bucket, so its time per account is constant).
   */
  sequentialAccounts?: number;
}

/**
 * Typical latencies of the calls a rotation makes, so a sequential script is as slow as it is
 * against Azure: an ARM read ~100 ms, a storage account PATCH ~1 s, a Key Vault operation ~200 ms
 * (creating an RSA 2048 key), a blob data-plane call ~30 ms. Assumptions, stated in the report.
 */
export const AZURE_LATENCY: LatencyRule[] = [
  { service: 'arm', method: 'write', ms: 1_000 },
  { service: 'arm', ms: 100 },
  { service: 'keyvault', ms: 200 },
  { service: 'blob', ms: 30 },
];

export const REQUESTER: Person = {
  aadObjectId: '00000000-0000-4000-8000-00000000b101',
  name: 'Bench Fleet Owner',
};
/** Approves the fleet's one plan card at once: the approval is part of the run, the wait for a person is not measured. */
const APPROVER: Person = {
  aadObjectId: '00000000-0000-4000-8000-00000000b102',
  name: 'Bench Fleet Approver',
};
export const POLICY: ApprovalPolicy = {
  approvers: { fleetRotate: [APPROVER.aadObjectId] },
  quorum: {},
  deadline: '1h',
  requesters: { fleetRotate: [REQUESTER.aadObjectId] },
};

/** Waits for the fleet's plan card and approves it as the bench approver. */
export async function approveWhenAsked(
  handle: WorkflowHandle,
  tenantId: string,
): Promise<{ askedAt: number; approvedAt: number } | undefined> {
  for (;;) {
    const status = await handle.query(statusQuery);
    if (status.result) return undefined;
    if (status.approval.state === 'pending') {
      const askedAt = Date.now();
      await handle.executeUpdate(decideUpdate, {
        args: [await signedDecision(status, APPROVER, 'approve', { tenantId })],
      });
      return { askedAt, approvedAt: Date.now() };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The fleet's result, reporting its progress every `everyMs` meanwhile. */
export async function fleetResult(
  handle: WorkflowHandle,
  label: string,
  total: number,
  everyMs: number,
): Promise<RunResult> {
  const ticker = setInterval(() => {
    handle
      .query(statusQuery)
      .then((s) => {
        const done = Object.values(s.fleet?.counts ?? {}).reduce((n, c) => n + c, 0);
        progress(`${label} fleetRotate: ${done}/${total} accounts done`);
      })
      .catch(() => undefined);
  }, everyMs);
  return (await handle.result().finally(() => clearInterval(ticker))) as RunResult;
}

let stock: { count: number; pairs: Promise<KeyPairMaterial[]> } | undefined;

/** `count` RSA 2048 pairs made before any clock starts; made once per bench run and shared by P1's tables. */
export function keyPairsFor(count: number): Promise<KeyPairMaterial[]> {
  if (!stock || stock.count < count) stock = { count, pairs: generateKeyPairs(2048, count) };
  return stock.pairs.then((pairs) => pairs.slice(0, count));
}

/** Seeds the fleet into a state file that every way starts from. */
export async function seedFleetFile(
  count: number,
  stateFile: string,
  layout: FleetLayout = {},
): Promise<FleetAccount[]> {
  const local = await startBenchAzure({ throttling: false, stateFile });
  try {
    return await seedFleet(local, count, layout);
  } finally {
    await local.close();
  }
}

/** The account's pinned version in the local Azure. */
function pinnedVersion(local: LocalAzure, a: AccountRef): string | undefined {
  const view = local.state.getStorageAccount(a.subscriptionId, a.resourceGroup, a.name) as
    { properties: { encryption: { keyvaultproperties?: { keyversion?: string } } } } | undefined;
  return view?.properties.encryption.keyvaultproperties?.keyversion || undefined;
}

/**
 * What the local Azure shows after a way of rotating: rotated accounts, and key versions beyond
 * one new version per key (several accounts may share a key, so each key is counted once).
 */
function verify(
  local: LocalAzure,
  fleet: readonly FleetAccount[],
): { rotated: number; failed: number; extraVersions: number } {
  let rotated = 0;
  const versionsOf = new Map<string, number>();
  for (const f of fleet) {
    const versions =
      local.state.data.vaults[f.vaultName.toLowerCase()]?.keys[f.keyName.toLowerCase()]?.versions ?? [];
    const pinned = pinnedVersion(local, f.account);
    const latest = versions.at(-1)?.version;
    if (pinned && pinned !== f.seedVersion && pinned === latest) rotated++;
    versionsOf.set(`${f.vaultName}/${f.keyName}`.toLowerCase(), versions.length);
  }
  let extraVersions = 0;
  for (const count of versionsOf.values()) extraVersions += Math.max(0, count - 2);
  return { rotated, failed: fleet.length - rotated, extraVersions };
}

/** One way's measurement. */
export interface WayResult {
  way: string;
  wallMs: number;
  stats: ArmStats;
  rotated: number;
  failed: number;
  extraVersions: number;
  /** CPU seconds spent while the clock ran (the runbook way only). */
  cpu?: CpuSpent;
  /** Seconds from the start until the plan asked for approval and until it was approved (the runbook way only). */
  approval?: { askedS: number; approvedS: number };
}

/** What every way starts from: the seeded state, its key pairs and the latency profile. */
export interface P1Setup {
  seedFile: string;
  fleet: readonly FleetAccount[];
  keyPairs: readonly KeyPairMaterial[];
  latencies: LatencyRule[];
}

/** Runs one way on a fresh local Azure with a copy of the seeded state, timing what `body` hands back. */
async function measure(
  way: string,
  setup: P1Setup,
  fleet: readonly FleetAccount[],
  body: (local: LocalAzure) => Promise<() => Promise<Pick<WayResult, 'cpu' | 'approval'> | void>>,
): Promise<WayResult> {
  const stateFile = path.join(SCRATCH, `p1-${way.replace(/\W+/g, '-')}.json`);
  copyFileSync(setup.seedFile, stateFile);
  const local = await startBenchAzure({ stateFile });
  clearKeyPairStock();
  stockKeyPairs(2048, setup.keyPairs);
  local.faults.set({ latencies: setup.latencies });
  try {
    const go = await body(local);
    local.requestLog.clear();
    const startedAt = Date.now();
    const t0 = performance.now();
    const measured = await go();
    const wallMs = performance.now() - t0;
    const result: WayResult = {
      way,
      wallMs,
      stats: armStats(local.requestLog, startedAt),
      ...verify(local, fleet),
      ...measured,
    };
    progress(
      `P1 ${way}: ${(wallMs / 1000).toFixed(1)} s, ${result.rotated} rotated, ${result.failed} failed`,
    );
    return result;
  } finally {
    clearKeyPairStock();
    await local.close();
  }
}

/** The seeded state P1's tables start from (seeded once per fleet size, its key pairs made before any clock starts). */
let prepared: { accounts: number; setup: P1Setup } | undefined;

/** Seeds P1's fleet (once per size) and makes its key pairs. */
export async function prepareP1(options: Pick<P1Options, 'accounts' | 'latency'>): Promise<P1Setup> {
  const latencies = options.latency === 'azure' ? AZURE_LATENCY : [];
  if (prepared?.accounts === options.accounts) return { ...prepared.setup, latencies };
  const seedFile = path.join(SCRATCH, 'p1-seed.json');
  const fleet = await seedFleetFile(options.accounts, seedFile);
  progress(
    `P1 seeded ${fleet.length} accounts; generating ${fleet.length + 50} RSA key pairs for the emulator`,
  );
  // Key Vault makes keys on Azure's hardware; here the emulator would make them on the CPU the
  // runbook runs on, so each way's local Azure is stocked with pairs made before the clock starts.
  const keyPairs = await keyPairsFor(fleet.length + 50);
  const setup: P1Setup = { seedFile, fleet, keyPairs, latencies };
  prepared = { accounts: options.accounts, setup };
  return setup;
}

/** Runs P1 and returns its table. */
export async function runP1(servers: RowServers, options: P1Options): Promise<BenchOutcome> {
  const setup = await prepareP1(options);
  const { fleet } = setup;
  const runbook = await measureRunbook(servers, 'fleetRotate runbook', setup, options);
  const sample = fleet.slice(0, Math.min(fleet.length, options.sequentialAccounts ?? fleet.length));
  const measured = await measure('sequential script', setup, sample, async (local) => {
    const rotate = rotateWithScript(local);
    return async () => {
      for (const f of sample) await rotate(f).catch(() => undefined);
    };
  });
  const sequential = extrapolate(measured, sample.length, fleet.length);
  const naive = await measure('naive Promise.all', setup, fleet, async (local) => {
    const rotate = rotateWithScript(local);
    return async () => {
      await Promise.all(fleet.map((f) => rotate(f).catch(() => undefined)));
    };
  });
  return p1Outcome(options, [runbook, sequential, naive]);
}

/**
 * The `fleetRotate` runbook through the production worker over `setup`'s fleet, on the row's
 * dev server from `servers`, checked against the local Azure: a run that says it succeeded must
 * have rotated every account.
 */
export function measureRunbook(
  servers: RowServers,
  way: string,
  setup: P1Setup,
  options: Pick<P1Options, 'concurrency'>,
  workers = 1,
): Promise<WayResult> {
  return servers.forRow((temporal) => measureRunbookOn(temporal, way, setup, options, workers));
}

async function measureRunbookOn(
  temporal: BenchTemporal,
  way: string,
  setup: P1Setup,
  options: Pick<P1Options, 'concurrency'>,
  workers: number,
): Promise<WayResult> {
  const accounts = setup.fleet.map((f) => f.account);
  let reported: RunResult['outcome'] | undefined;
  const result = await measure(way, setup, setup.fleet, async (local) => {
    const taskQueue = `bench-p1-${randomUUID().slice(0, 8)}`;
    const processes: WorkerProcess[] = [];
    for (let i = 0; i < workers; i++)
      processes.push(await startWorkerProcess(temporal, local, taskQueue, POLICY));
    return async () => {
      const startedAt = Date.now();
      try {
        // Every worker process's CPU, summed, and the server's.
        const meter = cpuMeter({
          worker: processes.map((p) => p.pid),
          temporal: temporal.server.process.pid,
        });
        const input: FleetRotateInput = {
          accounts,
          requester: REQUESTER,
          ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        };
        const { workflowType, ...start } = await signedStartOptions('fleetRotate', input, taskQueue, {
          tenantId: local.tenantId,
        });
        const handle = await temporal.client.workflow.start(workflowType, start);
        const asked = await approveWhenAsked(handle, local.tenantId);
        const done = await fleetResult(handle, 'P1', accounts.length, 10_000);
        const cpu = meter.stop();
        const succeeded = done.fleetCounts?.succeeded ?? 0;
        check(
          done.outcome !== 'succeeded' || succeeded === accounts.length,
          `P1 ${way} says succeeded but lists ${succeeded}/${accounts.length} accounts`,
        );
        reported = done.outcome;
        progress(`P1 ${way}: ${done.message}`);
        const since = (at: number): number => (at - startedAt) / 1000;
        return {
          cpu,
          ...(asked
            ? { approval: { askedS: since(asked.askedAt), approvedS: since(asked.approvedAt) } }
            : {}),
        };
      } finally {
        for (const p of processes) await p.stop();
      }
    };
  });
  check(
    reported !== 'succeeded' || result.failed === 0,
    `P1 ${way} reported success but the local Azure shows ${result.failed} account(s) not rotated`,
  );
  return result;
}

/** The sequential script's figures for the whole fleet from a sample (linear: it never waits on a bucket). */
function extrapolate(w: WayResult, sampled: number, total: number): WayResult & { sampled?: number } {
  if (sampled >= total) return w;
  const k = total / sampled;
  return {
    ...w,
    way: `${w.way} (${sampled} measured, × ${k.toFixed(1)})`,
    wallMs: w.wallMs * k,
    stats: {
      ...w.stats,
      writesOk: Math.round(w.stats.writesOk * k),
      writes429: Math.round(w.stats.writes429 * k),
      readsOk: Math.round(w.stats.readsOk * k),
      reads429: Math.round(w.stats.reads429 * k),
      readBoundS: Math.max(0, (w.stats.readsOk * k - 250) / 25),
      keyVault429s: Math.round(w.stats.keyVault429s * k),
    },
    failed: Math.round(w.failed * k),
    extraVersions: Math.round(w.extraVersions * k),
    sampled,
  };
}

function p1Outcome(options: P1Options, ways: WayResult[]): BenchOutcome {
  const count = options.accounts;
  // One key per account, spread over vaults: ARM's writes or the subscription's Key Vault creates bind.
  const optimum = layoutBound(count, count, KEYS_PER_VAULT, 0);
  const optimumS = optimum.seconds;
  const pct = (w: WayResult): number => (optimumS / (w.wallMs / 1000)) * 100;
  const table = ways.map((w) => ({
    way: w.way,
    'wall s': (w.wallMs / 1000).toFixed(1),
    'accounts/s': (count / (w.wallMs / 1000)).toFixed(2),
    'ARM writes ok': w.stats.writesOk,
    'ARM write 429s': w.stats.writes429,
    '429 per ok write': (w.stats.writes429 / Math.max(1, w.stats.writesOk)).toFixed(3),
    'ARM reads ok': w.stats.readsOk,
    'ARM read 429s': w.stats.reads429,
    'read-bucket bound s': w.stats.readBoundS.toFixed(1),
    '% of optimum': optimumS <= 0 ? 'n/a' : w.failed > 0 ? 'n/a (failures)' : pct(w).toFixed(0),
    'failed accounts': w.failed,
    'extra key versions': w.extraVersions,
  }));
  const [runbook, sequential] = ways as [WayResult, WayResult, WayResult];
  const speedup = sequential.wallMs / runbook.wallMs;
  const writes429Share =
    runbook.stats.writes429 / Math.max(1, runbook.stats.writes429 + runbook.stats.writesOk);
  return {
    title: `P1 · fleet rotation of ${count} pinned accounts under ARM's buckets (writes 200 + 10/s, reads 250 + 25/s)`,
    table,
    notes: [
      ...(runbook.cpu ? [cpuNote(runbook.cpu, count)] : []),
      describeTimeline('The runbook', runbook.stats, runbook.approval),
      `Optimum: the least time Azure's limits allow, here ${optimumS.toFixed(0)} s, set by ${optimum.which}. One PATCH per account is the least any way can write: the bucket lets 200 through at once and then 10/s, so ${count} writes need at least (${count} − 200) / 10 = ${Math.max(0, (count - 200) / 10).toFixed(0)} s. Each rotation also creates a key version: Key Vault allows a subscription 100 software creates per 10 s in a region (five times a vault's 20), so ${count} creates need at least (⌈${count} / 100⌉ − 1) × 10 s. "% of optimum" = the optimum / wall time.`,
      "Read-bucket bound: (successful ARM reads − 250) / 25 s — the least time the reads a way actually made can take. The runbook reads the account twice per rotation (the preflight and the rotation activity), plus one shared listing of the vaults every 2 s and the subscription's account list (a page of 100 accounts per read) when the fleet orders its accounts by key; the scripts read nothing.",
      options.latency === 'azure'
        ? 'Latency: every request to the local Azure is delayed as Azure would take: ARM reads 100 ms, ARM writes 1 s, Key Vault 200 ms, blob 30 ms (assumed typical figures). The emulator takes its RSA key pairs from a stock made before the clock starts, as Key Vault makes keys on its own hardware.'
        : 'Latency: none — the local Azure answers as fast as it can, so the ways measure CPU, not Azure. The emulator takes its RSA key pairs from a stock made before the clock starts.',
      "The runbook's worker paces its ARM requests to the subscription's token buckets (corrected by ARM's x-ms-ratelimit-remaining headers); the scripts send as fast as they can and rely on the SDK's retries.",
      ...(sequential.way.includes('measured')
        ? [
            `The sequential script rotated the first ${(sequential as { sampled?: number }).sampled} accounts; its row is scaled to ${count} (it never reaches the write bucket, so its time per account is constant).`,
          ]
        : []),
      `Keys are spread over ${Math.ceil(count / KEYS_PER_VAULT)} vaults (${KEYS_PER_VAULT} per vault) of one subscription and region, so Key Vault's 20 creates per vault per 10 s never binds, but its 100 per subscription may; key creation goes to the Key Vault data plane and does not use ARM's bucket.`,
      'Every way starts from a copy of the same seeded state on a fresh local Azure (fresh buckets); seeding ran unthrottled. "failed accounts" is read from the local Azure: an account counts as rotated only when it is pinned to its key\'s newest version, which differs from the seeded one. "extra key versions" are versions beyond one per rotation (orphans of failed or retried attempts).',
      "The scripts use the production SDK clients with their default retry policy (3 retries, honouring Retry-After); they know each account's vault and key up front and make no reads.",
    ],
    summary: [
      {
        benchmark: 'P1 fleet rotation: % of the optimum under ARM and Key Vault limits',
        target: '≥ 90 %',
        reached:
          optimumS > 0
            ? `${pct(runbook).toFixed(0)} % of ${optimumS.toFixed(0)} s (${optimum.which})`
            : `n/a: ${count} writes fit the burst`,
        met: optimumS > 0 && pct(runbook) >= 90,
      },
      {
        benchmark: 'P1 failed accounts / 429 share of writes',
        target: '0 failed, ≤ 5 % of writes 429',
        reached: `${runbook.failed} failed, ${(writes429Share * 100).toFixed(1)} % 429`,
        met: runbook.failed === 0 && writes429Share <= 0.05,
      },
      {
        benchmark: 'P1 speed-up over the sequential script',
        target: '≥ 10×',
        reached: `${speedup.toFixed(2)}×`,
        met: speedup >= 10,
      },
    ],
  };
}

/** CPU per rotated account of the worker, the dev server and the local Azure (this process). */
export function cpuNote(cpu: CpuSpent, accounts: number): string {
  const per = (s: number): string => `${msPerAccount(s, accounts)} ms`;
  return `CPU per rotated account while the runbook ran: worker ${per(cpu.worker)}, Temporal dev server ${per(cpu.temporal)}, local Azure and bench client ${per(cpu.bench)} (user + system, /proc and process.cpuUsage).`;
}
