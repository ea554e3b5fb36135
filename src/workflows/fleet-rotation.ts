/**
 * Rotating a fleet's accounts: one `rotateKey` child per account under the account's own
 * workflow id (a busy account is reported, not waited for), at most `concurrency` at once, with
 * continue-as-new after `perRun` accounts. Shared by the planned fleet and older fleets' replay.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ChildWorkflowFailure,
  condition,
  isCancellation,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { parseKeyId, validateAccountRef, workflowIdFor, type AccountRef } from '../shared/accounts';
import { ValidationError } from '../shared/names';
import type { FleetProgress } from '../shared/approval';
import { addOutcome, FLEET_LISTED_SUCCESSES, tallied, tallyOf, type FleetTally } from '../shared/fleet-tally';
import type { FleetOutcome, FleetRotateInput, RunContext, RunResult } from '../shared/runbooks';
import { searchAttributesFor } from '../shared/start';
import { summaryLine } from '../shared/status';
import { childSearchAttributes } from './children';
import { PATCHES, inForce } from './patches';
import { azureKeyVaultCreates, azureLong } from './proxies';
import { rotateKey } from './rotate-key';
import { rulesMemo } from '../shared/rules';

/**
 * A run's first rotations start in waves of this many, {@link WAVE_GAP_MS} apart. Children started
 * together advance in step: each of their tasks waits behind the same task of every other child
 * on the worker's queues, so with 100 started at once the first ARM write waited for all 100
 * preflights (8.6 s into a 1,000-account fleet, where ARM's bucket stays full and its refill is
 * lost). In waves the first wave writes while the later ones read (6.4 s).
 */
export const START_WAVE = 20;
/** The pause between two waves of a run's first rotations (workflow time, a timer). */
export const WAVE_GAP_MS = 300;

/** How a batch of rotations ended: every account done, or the rest left for the next run. */
export interface BatchEnd {
  /** Accounts not started in this run (continue as new with them). */
  rest: AccountRef[];
  /**
   * The key each of `rest` uses, when this run knew every one (they were all in its share, and
   * it stopped early because Temporal suggested continuing as new).
   */
  restKeys?: (string | null)[];
}

/**
 * Rotates accounts until done or the run's share is used, calling `onOutcome` for each result
 * and `onTick` while it waits (every `tickMs` at most, to refresh a progress card).
 */
export async function rotateBatch(options: {
  accounts: AccountRef[];
  context: RunContext;
  concurrency: number;
  perRun: number;
  onOutcome: (outcome: FleetOutcome) => void;
  onTick?: () => Promise<void>;
  tickMs?: number;
  /**
   * Rotate each key once under this rotation id: the batch reads which key each account uses; it
   * makes the version of a key several accounts share itself and starts them onto it (or, when
   * it cannot, the first account of the key rotates it and the others start after it).
   */
  rotationId?: string;
  /** The key each account uses, when the caller knows it already (from the plan just re-checked). */
  keys?: ReadonlyMap<AccountRef, string | null>;
}): Promise<BatchEnd> {
  let queue = [...options.accounts];
  const keyOf = new Map<AccountRef, string>();
  let read: Set<AccountRef> | undefined;
  // Asked on every batch, whatever the answer, so each new run records which path it took.
  const fleetVersions = inForce(PATCHES.fleetMakesSharedVersions);
  /** The version the fleet makes of each key several of this run's accounts share: made or not. */
  let versions = new Map<string, Promise<boolean>>();
  if (options.rotationId && queue.length > 0) {
    const batch = queue.slice(0, options.perRun);
    read = new Set(batch);
    const known = options.keys;
    const keys = known
      ? batch.map((a) => known.get(a) ?? null)
      : await azureLong.keysInUse.executeWithOptions(
          { summary: `Read the keys of ${batch.length} account(s)` },
          [{ accounts: batch }],
        );
    batch.forEach((a, i) => keys[i] && keyOf.set(a, keys[i]));
    const { leaders, followers } = leadersFirst(batch, keyOf);
    const spread = inForce(PATCHES.leadersAcrossVaults) ? acrossVaults(leaders, keyOf) : leaders;
    queue = [...spread, ...followers, ...queue.slice(options.perRun)];
    if (fleetVersions) versions = sharedVersions(spread, followers, keyOf, options.rotationId);
  }
  const rotated = new Map<string, Promise<FleetOutcome>>();
  const inFlight = new Map<string, Promise<void>>();
  const waves = inForce(PATCHES.startInWaves);
  let started = 0;
  let finished = 0;
  while (queue.length > 0) {
    if (started >= options.perRun || workflowInfo().continueAsNewSuggested) break;
    const raw = queue.shift()!;
    started++;
    const id = `${started}`;
    const key = keyOf.get(raw);
    // Awaited only for a key the fleet makes a version of (runs without one replay unchanged).
    const version = key === undefined ? undefined : versions.get(key);
    const run = rotationOf(raw, key, version ? await version : false, rotated, options);
    inFlight.set(
      id,
      run.then((outcome) => {
        options.onOutcome(outcome);
        finished++;
        inFlight.delete(id);
      }),
    );
    if (inFlight.size >= options.concurrency) await condition(() => inFlight.size < options.concurrency);
    else if (waves && started < options.concurrency && started % START_WAVE === 0) await sleep(WAVE_GAP_MS);
    if (options.onTick) await options.onTick();
  }
  while (inFlight.size > 0) {
    const seen = finished;
    if (options.tickMs) await condition(() => inFlight.size === 0 || finished !== seen, options.tickMs);
    else await condition(() => inFlight.size === 0);
    if (options.onTick) await options.onTick();
  }
  const known = read && queue.length > 0 && queue.every((a) => read.has(a));
  return { rest: queue, ...(known ? { restKeys: queue.map((a) => keyOf.get(a) ?? null) } : {}) };
}

/**
 * An account's rotation. On a key the fleet made a version of (`versionMade`), it moves onto that
 * version now. Otherwise the key's first account (noted in `rotated`) rotates the key, and the
 * others start once it ended, following it when it succeeded.
 */
function rotationOf(
  raw: AccountRef,
  key: string | undefined,
  versionMade: boolean,
  rotated: Map<string, Promise<FleetOutcome>>,
  options: { context: RunContext; rotationId?: string },
): Promise<FleetOutcome> {
  if (versionMade) return rotateOne(raw, options.context, options.rotationId, true);
  const leader = key === undefined ? undefined : rotated.get(key);
  if (leader)
    return leader.then((first) =>
      rotateOne(raw, options.context, options.rotationId, first.outcome === 'succeeded'),
    );
  const run = rotateOne(raw, options.context, options.rotationId);
  if (key !== undefined) rotated.set(key, run);
  return run;
}

/**
 * The keys several of `leaders` and `followers` share (a follower's key is always a leader's),
 * each with its first account and how many use it, in the order their first accounts start.
 */
function sharedKeys(
  leaders: AccountRef[],
  followers: AccountRef[],
  keyOf: Map<AccountRef, string>,
): Map<string, { first: AccountRef; count: number }> {
  const counts = new Map<string, number>();
  for (const a of followers) {
    const key = keyOf.get(a);
    if (key !== undefined) counts.set(key, (counts.get(key) ?? 1) + 1);
  }
  const shared = new Map<string, { first: AccountRef; count: number }>();
  for (const a of leaders) {
    const key = keyOf.get(a);
    const count = key === undefined ? undefined : counts.get(key);
    if (key !== undefined && count !== undefined) shared.set(key, { first: a, count });
  }
  return shared;
}

/**
 * Starts making the version of every key several accounts share, all at once (the server paces
 * each vault's creates on its own), and returns each key's: made or not.
 */
function sharedVersions(
  leaders: AccountRef[],
  followers: AccountRef[],
  keyOf: Map<AccountRef, string>,
  rotationId: string,
): Map<string, Promise<boolean>> {
  const versions = new Map<string, Promise<boolean>>();
  for (const [key, { first, count }] of sharedKeys(leaders, followers, keyOf)) {
    const made = makeSharedVersion(key, first, count, rotationId);
    // A cancelled run rejects every one; the loop awaits only those it reaches.
    void made.catch(() => undefined);
    versions.set(key, made);
  }
  return versions;
}

/**
 * Makes (or finds, on a retry or a continued run: the rotation's tag) the new version of `key`
 * for the `count` accounts that share it, on the vault's paced queue of creates, as the key's
 * first account would have: the activity reads `first` to find the key and the version it uses.
 * False when it could not (an account that left the key, a key gone, a bad account): the key's
 * accounts then rotate as before, the first one making the version.
 */
async function makeSharedVersion(
  key: string,
  first: AccountRef,
  count: number,
  rotationId: string,
): Promise<boolean> {
  let vault: string;
  let name: string;
  try {
    ({ vaultName: vault, name } = parseKeyId(key));
  } catch {
    return false;
  }
  try {
    // A software key's pace: the fleet does not know the key's type (an HSM key's create over
    // Key Vault's lower limit is answered 429 and retried through the queue).
    await azureKeyVaultCreates(vault, false).makeKeyVersion.executeWithOptions(
      { summary: `Make a new version of key ${vault}/${name} for the ${count} accounts that use it` },
      [{ account: first, runId: workflowInfo().runId, rotationId, confirmWithinMs: 0 }],
    );
    return true;
  } catch (error) {
    if (isCancellation(error)) throw error;
    return false;
  }
}

/** The first account of each key (and those whose key is unknown), then the others, in order. */
function leadersFirst(
  accounts: AccountRef[],
  keyOf: Map<AccountRef, string>,
): { leaders: AccountRef[]; followers: AccountRef[] } {
  const seen = new Set<string>();
  const leaders: AccountRef[] = [];
  const followers: AccountRef[] = [];
  for (const a of accounts) {
    const key = keyOf.get(a);
    if (key !== undefined && seen.has(key)) followers.push(a);
    else {
      if (key !== undefined) seen.add(key);
      leaders.push(a);
    }
  }
  return { leaders, followers };
}

/**
 * `accounts` taken vault by vault in turn: the first of every vault in the order the vaults first
 * appear, then the second of each, and so on. Each vault's key creates are paced on their own,
 * so rotations running at once then wait on many vaults' paces, not on one. An account whose key
 * is unknown counts as a vault of its own.
 */
export function acrossVaults(accounts: AccountRef[], keyOf: Map<AccountRef, string>): AccountRef[] {
  const byVault = new Map<string, AccountRef[]>();
  accounts.forEach((a, i) => {
    const key = keyOf.get(a);
    const at = key?.lastIndexOf('keys/') ?? -1;
    const vault = key !== undefined && at > 0 ? key.slice(0, at) : `unknown ${i}`;
    const lane = byVault.get(vault);
    if (lane) lane.push(a);
    else byVault.set(vault, [a]);
  });
  const lanes = [...byVault.values()];
  const spread: AccountRef[] = [];
  for (let round = 0; spread.length < accounts.length; round++)
    for (const lane of lanes) if (round < lane.length) spread.push(lane[round]!);
  return spread;
}

/**
 * One account's rotation as a child run, and its outcome; `followsKeyLeader` when the fleet or
 * its key's first account made the version it needs.
 */
export async function rotateOne(
  raw: AccountRef,
  context: RunContext,
  rotationId?: string,
  followsKeyLeader = false,
): Promise<FleetOutcome> {
  let account: AccountRef;
  try {
    account = validateAccountRef(raw);
  } catch (error) {
    const message = error instanceof ValidationError ? error.message : String(error);
    return { account: raw, outcome: 'invalid', message };
  }
  const workflowId = workflowIdFor(account);
  try {
    const child = await startChild(rotateKey, {
      workflowId,
      args: [
        {
          account,
          ...context,
          ...(rotationId ? { rotationId } : {}),
          ...(followsKeyLeader ? { followsKeyLeader } : {}),
        },
      ],
      typedSearchAttributes: childSearchAttributes(searchAttributesFor('rotate', account, context.requester)),
      staticSummary: `${summaryLine('rotate', account)} · fleet`,
      memo: rulesMemo(),
    });
    const result = await child.result();
    return { account, outcome: result.outcome, message: result.message };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return {
        account,
        outcome: 'blocked',
        message: `${account.name} is busy with run ${workflowId}; skipped.`,
      };
    }
    if (error instanceof ChildWorkflowFailure) {
      return { account, outcome: 'failed', message: error.cause?.message ?? error.message };
    }
    throw error;
  }
}

/** The fleet's result from its outcomes so far (fleets that keep every outcome). */
export function summarise(outcomes: FleetOutcome[], total: number): RunResult {
  const result = summariseCounts(countOutcomes(outcomes), total, [...outcomes]);
  delete result.fleetCounts;
  return result;
}

/** The fleet's result from its counts so far, listing `fleet` (all outcomes or some of them). */
export function summariseCounts(
  counts: Record<string, number>,
  total: number,
  fleet: FleetOutcome[],
): RunResult {
  const done = Object.values(counts).reduce((n, c) => n + c, 0);
  const parts = Object.entries(counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const allGood = done === total && (counts.succeeded ?? 0) === total;
  return {
    outcome: allGood ? 'succeeded' : done < total ? 'pending' : 'failed',
    message: `Fleet rotation of ${total} account(s): ${parts || 'nothing done yet'}.`,
    steps: [],
    remaining: [],
    fleet,
    fleetCounts: counts,
  };
}

/** Outcomes by kind, in the order they first occurred. */
export function countOutcomes(outcomes: FleetOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.outcome] = (counts[o.outcome] ?? 0) + 1;
  return counts;
}

/** Accounts a progress card names; the rest are counted. */
const PROGRESS_ROWS = 40;

/**
 * A fleet's outcomes as the run keeps them: bounded (counts, the first failures and the latest
 * successes; {@link FleetTally}) or, for fleets started before that, every outcome.
 */
export class FleetLedger {
  private readonly tally: FleetTally;
  /** Every outcome, kept only by fleets started before bounded fleets. */
  private readonly all?: FleetOutcome[];
  /** The latest successes of this run (bounded fleets), oldest first. */
  private readonly latest: FleetOutcome[] = [];

  constructor(
    readonly bounded: boolean,
    carried: Pick<FleetRotateInput, 'carried' | 'tally'>,
  ) {
    if (bounded)
      this.tally = carried.tally
        ? { counts: { ...carried.tally.counts }, failures: [...carried.tally.failures] }
        : tallyOf(carried.carried);
    else {
      this.all = [...(carried.carried ?? [])];
      this.tally = tallyOf(this.all);
    }
  }

  add(outcome: FleetOutcome): void {
    addOutcome(this.tally, outcome);
    if (this.all) this.all.push(outcome);
    else if (outcome.outcome === 'succeeded') {
      this.latest.push(outcome);
      if (this.latest.length > FLEET_LISTED_SUCCESSES) this.latest.shift();
    }
  }

  /** Accounts by outcome so far. */
  get counts(): Record<string, number> {
    return this.tally.counts;
  }

  /** Accounts with an outcome so far. */
  get done(): number {
    return tallied(this.tally);
  }

  /** The outcomes a result lists: every one, or the failures and then the latest successes. */
  listed(): FleetOutcome[] {
    return this.all ? [...this.all] : [...this.tally.failures, ...this.latest];
  }

  /** The result so far. */
  summary(total: number): RunResult {
    if (this.all) return summarise(this.all, total);
    return summariseCounts({ ...this.tally.counts }, total, this.listed());
  }

  /** What a continue-as-new hands on. */
  carry(): Pick<FleetRotateInput, 'carried' | 'tally'> {
    return this.all ? { carried: [...this.all] } : { tally: this.tally };
  }

  /** The progress card's counts and rows: accounts that did not succeed first, then the latest. */
  progress(total: number): FleetProgress {
    const source = this.all ?? [...this.tally.failures, ...this.latest];
    const rows = [
      ...source.filter((o) => o.outcome !== 'succeeded'),
      ...source.filter((o) => o.outcome === 'succeeded').reverse(),
    ]
      .slice(0, PROGRESS_ROWS)
      .map((o) => ({ name: o.account.name, outcome: o.outcome, message: o.message }));
    return { total, counts: { ...this.tally.counts }, rows };
  }
}
