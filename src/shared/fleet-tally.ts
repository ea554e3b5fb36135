/**
 * What a fleet rotation keeps of its accounts' outcomes, in a size that does not grow with the
 * fleet: counts by outcome, the first outcomes that were not a success (capped) and a few of the
 * latest successes. It is what a fleet carries over continue-as-new, what its progress card and
 * `status` query show and what its result lists; every account's own outcome stays in the
 * history of its own `rotateKey` run. Accounts are handed on in a compact form (grouped by
 * subscription and resource group), so the list of accounts still to rotate costs about a name
 * per account. Pure: workflows, activities and the bot share it.
 */
import type { AccountRef } from './accounts';
import type { FleetOutcome } from './runbooks';

/** Outcomes that were not a success a fleet names (in its carried tally and its result); the rest are counted. */
export const FLEET_LISTED_FAILURES = 100;
/** Successes a fleet's result names besides its failures, as a sample (the latest). */
export const FLEET_LISTED_SUCCESSES = 20;

/** A fleet's outcomes so far, bounded; see the module comment. */
export interface FleetTally {
  /** Accounts by how they ended (`succeeded`, `failed`, `blocked`, …). */
  counts: Record<string, number>;
  /** The first {@link FLEET_LISTED_FAILURES} outcomes that were not `succeeded`. */
  failures: FleetOutcome[];
}

/** Accounts of one subscription and resource group, by name: a fleet's accounts in compact form. */
export interface AccountGroup {
  subscriptionId: string;
  resourceGroup: string;
  names: string[];
}

/** A new, empty tally (or one holding outcomes carried by a fleet started before tallies). */
export function tallyOf(outcomes: readonly FleetOutcome[] = []): FleetTally {
  const tally: FleetTally = { counts: {}, failures: [] };
  for (const o of outcomes) addOutcome(tally, o);
  return tally;
}

/** Counts `outcome` and lists it when it is a failure and the list has room. */
export function addOutcome(tally: FleetTally, outcome: FleetOutcome): void {
  tally.counts[outcome.outcome] = (tally.counts[outcome.outcome] ?? 0) + 1;
  if (outcome.outcome !== 'succeeded' && tally.failures.length < FLEET_LISTED_FAILURES)
    tally.failures.push(outcome);
}

/** Accounts counted so far. */
export function tallied(tally: FleetTally): number {
  return Object.values(tally.counts).reduce((n, c) => n + c, 0);
}

/** Accounts in compact form, in their order (consecutive accounts of one group share an entry). */
export function groupAccounts(accounts: readonly AccountRef[]): AccountGroup[] {
  const groups: AccountGroup[] = [];
  for (const a of accounts) {
    const last = groups.at(-1);
    if (last && last.subscriptionId === a.subscriptionId && last.resourceGroup === a.resourceGroup)
      last.names.push(a.name);
    else groups.push({ subscriptionId: a.subscriptionId, resourceGroup: a.resourceGroup, names: [a.name] });
  }
  return groups;
}

/** Keys by account, compact: `keys` once each, `of[i]` the index of account i's key (-1: none). */
export interface KeyIndex {
  keys: string[];
  of: number[];
}

/** The key of each account (null: none), compact: each key once. */
export function indexKeys(keys: readonly (string | null)[]): KeyIndex {
  const index = new Map<string, number>();
  const of = keys.map((key) => {
    if (key === null) return -1;
    let i = index.get(key);
    if (i === undefined) index.set(key, (i = index.size));
    return i;
  });
  return { keys: [...index.keys()], of };
}

/**
 * The key of each of `count` accounts from an index, or undefined when the index does not fit
 * them (another length, or an entry out of range): the caller then reads the keys itself.
 */
export function keysFromIndex(index: KeyIndex | undefined, count: number): (string | null)[] | undefined {
  if (!index || !Array.isArray(index.of) || !Array.isArray(index.keys) || index.of.length !== count)
    return undefined;
  const keys = index.of.map((i) =>
    i === -1 ? null : Number.isInteger(i) && typeof index.keys[i] === 'string' ? index.keys[i] : undefined,
  );
  return keys.every((k) => k !== undefined) ? keys : undefined;
}

/** The accounts of compact groups, in order. */
export function ungroupAccounts(groups: readonly AccountGroup[] = []): AccountRef[] {
  return groups.flatMap((g) =>
    (g.names ?? []).map((name) => ({
      subscriptionId: g.subscriptionId,
      resourceGroup: g.resourceGroup,
      name,
    })),
  );
}
