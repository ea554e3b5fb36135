/**
 * `inspectFleet` (read-only): the plan of a fleet rotation — which of the selected accounts are
 * on a usable customer-managed key and will be rotated, which are skipped and why — from one
 * account listing per subscription and one read per distinct key, so a fleet of a thousand
 * accounts on a few keys costs ARM a handful of reads.
 */
import { createHash } from 'node:crypto';
import type { StorageAccount } from '@azure/arm-storage';
import { accountId, validateAccountRef, type AccountRef } from '../shared/accounts';
import type { FleetPlan } from '../shared/activities';
import { ungroupAccounts, type AccountGroup } from '../shared/fleet-tally';
import type { FleetPlanSummary, Plan } from '../shared/plan';
import { describeEncryption } from '../shared/status';
import { encryptionOf, keyInUseOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { isForbidden } from './errors';
import { findKey } from './keys';
import { canonicalJson } from './live-state';
import { STEP_TITLES } from './plan-builder';
import { abortSignal, call } from './runtime';

/** Accounts a fleet card names; the rest are counted. */
export const FLEET_ROWS = 40;

/** See the module comment. */
export async function inspectFleet(
  deps: ActivityDeps,
  input: { accounts: AccountRef[]; groups?: AccountGroup[]; selection?: string; keysInUse?: boolean },
): Promise<FleetPlan> {
  const refs = [...(input.accounts ?? []), ...ungroupAccounts(input.groups)].map((a, i) =>
    validateAccountRef(a, `accounts[${i}]`),
  );
  const { live, keyProblems } = await readFleet(deps, refs);
  const skip: FleetPlan['skip'] = [];
  const rows: FleetPlanSummary['rows'] = [];
  const material: unknown[] = [];
  for (const ref of refs) {
    const account = live.get(accountId(ref).toLowerCase());
    const enc = account ? encryptionOf(account) : undefined;
    const keyId = enc?.vaultUri && enc.keyName ? `${enc.vaultUri}|${enc.keyName}`.toLowerCase() : undefined;
    const why = !account
      ? 'does not exist'
      : enc?.keySource !== 'Microsoft.Keyvault' || !keyId
        ? 'uses Microsoft-managed keys; nothing to rotate'
        : keyProblems.get(keyId);
    material.push([accountId(ref).toLowerCase(), enc?.vaultUri, enc?.keyName, Boolean(enc?.keyVersion), why]);
    if (why) {
      skip.push({ account: ref, why: `${ref.name} ${why}; skipped.` });
      rows.push({ name: ref.name, detail: `skipped: ${why}`, skip: true });
    } else rows.push({ name: ref.name, detail: describeEncryption(enc), skip: false });
  }
  const rotate = refs.length - skip.length;
  const shown = [...rows.filter((r) => r.skip), ...rows.filter((r) => !r.skip)].slice(0, FLEET_ROWS);
  const fleet: FleetPlanSummary = { total: refs.length, rotate, skip: skip.length, rows: shown };
  const first = refs[0] ?? { subscriptionId: '', resourceGroup: '', name: '' };
  const plan: Plan = {
    operation: 'fleetRotate',
    account: first,
    steps: [
      { id: 'preflight', title: STEP_TITLES.preflight, destructive: false, irreversible: false },
      {
        id: 'rotate',
        title: `Rotate the keys of ${rotate} account(s), one new version each, ${input.selection ?? 'as selected'}`,
        destructive: false,
        irreversible: false,
        ...(rotate === 0 ? { skip: true } : {}),
      },
      { id: 'probe', title: STEP_TITLES.probe, destructive: false, irreversible: false },
    ],
    blockers: rotate
      ? []
      : [
          {
            code: 'NothingToRotate',
            message: `None of the ${refs.length} selected account(s) can be rotated (${skip[0]?.why ?? 'none selected'}).`,
            fix: 'Select accounts that use a customer-managed key (configure them first).',
          },
        ],
    warnings: skip.length ? [`${skip.length} account(s) will be skipped; the list shows why.`] : [],
    before: { keySource: 'Microsoft.Keyvault' },
    after: { keySource: 'Microsoft.Keyvault' },
    facts: {
      before: [
        {
          title: 'Selected',
          value: `${refs.length} account(s)${input.selection ? ` ${input.selection}` : ''}`,
        },
        { title: 'On a usable key', value: String(rotate) },
      ],
      after: [
        { title: 'Rotated', value: `${rotate} (pinned ones moved to the new version)` },
        { title: 'Skipped', value: String(skip.length) },
      ],
    },
    destructive: false,
    irreversible: [],
    fingerprint: createHash('sha256')
      .update(canonicalJson({ material, keys: [...keyProblems] }))
      .digest('hex'),
    fleet,
  };
  return input.keysInUse ? { plan, skip, keysInUse: keysOf(refs, live) } : { plan, skip };
}

/** The key each of `refs` uses, null when it is not listed or not on a customer-managed key. */
function keysOf(refs: AccountRef[], live: Map<string, StorageAccount>): (string | null)[] {
  return refs.map((ref) => {
    const account = live.get(accountId(ref).toLowerCase());
    return account ? keyInUseOf(account) : null;
  });
}

/**
 * The selected accounts as ARM lists them (by lowercase resource id), and why each distinct key
 * they use cannot be rotated (by `<vault uri>|<key>`; usable keys are absent, the keys in the
 * order the listing first names them, for the fingerprint). Each key is read as soon as its
 * page of the listing arrives, so the reads overlap the listing's pages.
 */
async function readFleet(
  deps: ActivityDeps,
  refs: AccountRef[],
): Promise<{ live: Map<string, StorageAccount>; keyProblems: Map<string, string> }> {
  const wanted = new Set(refs.map((r) => accountId(r).toLowerCase()));
  const live = new Map<string, StorageAccount>();
  const reads = new KeyReads(deps);
  const subscriptions = [...new Set(refs.map((r) => r.subscriptionId.toLowerCase()))];
  let listing: unknown;
  try {
    for (const subscriptionId of subscriptions) {
      await call({ what: `storage accounts in subscription ${subscriptionId}` }, async () => {
        for await (const a of deps.azure
          .storage(subscriptionId)
          .storageAccounts.list({ abortSignal: abortSignal() })) {
          const id = a.id?.toLowerCase();
          if (!id || !wanted.has(id)) continue;
          live.set(id, a);
          const enc = encryptionOf(a);
          if (enc.keySource === 'Microsoft.Keyvault' && enc.vaultUri && enc.keyName)
            reads.add(enc.vaultUri, enc.keyName);
        }
      });
    }
  } catch (error) {
    listing = error;
  }
  // Every read started has ended before this returns or throws, so none outlives the activity.
  const keyProblems = await reads.settled();
  if (listing !== undefined) throw listing;
  return { live, keyProblems };
}

/**
 * Key reads for a fleet's plan, each started when its key is first added: at most
 * {@link KEY_READERS} at once in all and {@link KEY_READERS_PER_VAULT} in one vault.
 */
class KeyReads {
  private readonly all = new Slots(KEY_READERS);
  private readonly vaults = new Map<string, Slots>();
  private readonly keys = new Map<string, Promise<string | undefined>>();

  constructor(private readonly deps: ActivityDeps) {}

  /** Starts reading the key `name` of the vault at `uri`, unless it is read already. */
  add(uri: string, name: string): void {
    const id = `${uri}|${name}`.toLowerCase();
    if (this.keys.has(id)) return;
    const vault = uri.toLowerCase();
    const known = this.vaults.get(vault);
    // A vault's first read goes alone: Key Vault answers a client's first request with a 401
    // that says how to sign in (challenge-based auth), and requests sent before that answer each
    // get one too, a wasted round trip each. Once it is answered, the vault's other reads go.
    const slots = known ?? new Slots(1);
    if (!known) this.vaults.set(vault, slots);
    // A vault's slot first, then one of all: a read waiting on its vault holds no slot of all.
    const read = slots
      .use(() => this.all.use(() => this.problemOf(uri, name)))
      .finally(() => {
        if (!known) slots.widen(KEY_READERS_PER_VAULT - 1);
      });
    // Awaited in settled(); until then a failure must not count as unhandled.
    void read.catch(() => undefined);
    this.keys.set(id, read);
  }

  /** Why each key read cannot be rotated (usable keys absent), once every read has ended; the first failure. */
  async settled(): Promise<Map<string, string>> {
    const ids = [...this.keys.keys()];
    const outcomes = await Promise.allSettled(this.keys.values());
    const problems = new Map<string, string>();
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'rejected') throw outcome.reason;
      if (outcome.value !== undefined) problems.set(ids[i]!, outcome.value);
    }
    return problems;
  }

  private async problemOf(uri: string, name: string): Promise<string | undefined> {
    const label = `${new URL(uri).hostname.split('.')[0]}/${name}`;
    try {
      const key = await findKey(this.deps, uri, name);
      if (!key) return `uses key ${label}, which no longer exists`;
      if (key.properties.enabled === false) return `uses key ${label}, which is disabled`;
      return undefined;
    } catch (error) {
      if (!isForbidden((error as { cause?: unknown }).cause ?? error) && !isForbidden(error)) throw error;
      return `uses key ${label}, which the runbook may not read`;
    }
  }
}

/**
 * Keys {@link KeyReads} reads at once in one vault. A fleet reads them twice before it rotates
 * (its plan, and again when the approval is confirmed), so every second of it delays the first
 * rotation. 32 at Key Vault's ~200 ms a read is at most 160 GETs a second, 1,600 per 10 s, under
 * Key Vault's 4,000 GETs per vault per 10 s. Vaults are read side by side, under Key Vault's
 * subscription-wide limit of five times a vault's (service limits) by {@link KEY_READERS}.
 */
const KEY_READERS_PER_VAULT = 32;
/** Keys read at once across vaults: 640 GETs a second at most, under the subscription's 2,000. */
const KEY_READERS = 128;

/** At most `size` calls of {@link use} run at once; the rest wait their turn in order. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  /** `more` calls more may run at once from now on. */
  widen(more: number): void {
    for (let i = 0; i < more; i++) {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
