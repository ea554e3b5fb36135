/**
 * `inspectFleet` (read-only): the plan of a fleet rotation — which of the selected accounts are
 * on a usable customer-managed key and will be rotated, which are skipped and why — from one
 * account listing per subscription and a listing of each vault the keys are in, so a fleet of a
 * thousand accounts costs ARM a handful of reads and Key Vault one request per 25 keys.
 */
import { createHash } from 'node:crypto';
import type { StorageAccount } from '@azure/arm-storage';
import type { KeyProperties } from '@azure/keyvault-keys';
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
 * Key reads for a fleet's plan, each started when its key is first added: each vault's keys are
 * read by {@link VaultKeys}, at most {@link KEY_READERS} requests at once across vaults.
 */
class KeyReads {
  private readonly all = new Slots(KEY_READERS);
  private readonly vaults = new Map<string, VaultKeys>();
  private readonly keys = new Map<string, Promise<string | undefined>>();

  constructor(private readonly deps: ActivityDeps) {}

  /** Starts reading the key `name` of the vault at `uri`, unless it is read already. */
  add(uri: string, name: string): void {
    const id = `${uri}|${name}`.toLowerCase();
    if (this.keys.has(id)) return;
    const vault = uri.toLowerCase();
    let keys = this.vaults.get(vault);
    if (!keys) {
      keys = new VaultKeys(this.deps, uri, this.all);
      this.vaults.set(vault, keys);
    }
    const label = `${new URL(uri).hostname.split('.')[0]}/${name}`;
    const read = keys.read(name).then((state) => (state === 'usable' ? undefined : PROBLEMS[state](label)));
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
}

/** What a plan needs to know of a key. */
type KeyState = 'usable' | 'absent' | 'disabled' | 'unreadable';

/** Why an account on a key in that state is skipped. */
const PROBLEMS: Record<Exclude<KeyState, 'usable'>, (label: string) => string> = {
  absent: (label) => `uses key ${label}, which no longer exists`,
  disabled: (label) => `uses key ${label}, which is disabled`,
  unreadable: (label) => `uses key ${label}, which the runbook may not read`,
};

/**
 * One vault's keys for a plan. Key Vault lists a vault's keys 25 to a request, each with its
 * attributes (Get Keys, `maxresults` at most 25), where reading them costs a request each (Get
 * Key); the request, not the key, is what costs the worker's CPU and Key Vault's limit. So the
 * vault is listed page by page while its pages stay fewer than the keys wanted of it, and keys
 * are read one by one only once listing stops paying: a vault with many keys the fleet does not
 * use, or where the runbook may read keys but not list them (access policies grant `list` apart
 * from `get`). A key the complete listing did not name is read too, so its absence is Get Key's.
 * The vault's first request goes alone: Key Vault answers a client's first request with a 401
 * that says how to sign in (challenge-based auth), and each request sent before that answer
 * would get one too.
 */
class VaultKeys {
  private readonly listed = new Map<string, KeyState>();
  private readonly pending: { name: string; settle: (state: Promise<KeyState>) => void }[] = [];
  private readonly gets = new Slots(KEY_READERS_PER_VAULT);
  private pages: AsyncIterator<KeyProperties[]> | undefined;
  private pagesRead = 0;
  private wanted = 0;
  /** Until the listing ends, fails or is forbidden; keys it did not name are then read one by one. */
  private listing = true;
  private paging = false;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly uri: string,
    private readonly all: Slots,
  ) {}

  /** The state of the key `name`, from the listing or read on its own. */
  read(name: string): Promise<KeyState> {
    this.wanted++;
    const listed = this.listed.get(name.toLowerCase());
    if (listed) return Promise.resolve(listed);
    if (!this.listing) return this.get(name);
    return new Promise((resolve) => {
      this.pending.push({ name, settle: resolve });
      this.pump();
    });
  }

  /** Lists the next page for the keys waiting, or reads them one by one when listing stops paying. */
  private pump(): void {
    if (this.paging || this.pending.length === 0) return;
    if (!this.listing || this.pagesRead >= this.wanted) {
      for (const { name, settle } of this.pending.splice(0)) settle(this.get(name));
      return;
    }
    this.paging = true;
    this.pagesRead++;
    void this.all
      .use(() =>
        call({ what: `the keys of ${this.uri}` }, () => {
          this.pages ??= this.deps.azure
            .keys(this.uri)
            .listPropertiesOfKeys({ abortSignal: abortSignal() })
            .byPage({ maxPageSize: 25 });
          return this.pages.next();
        }),
      )
      .then(
        (page) => {
          if (page.done) this.listing = false;
          else
            for (const key of page.value)
              this.listed.set(key.name.toLowerCase(), key.enabled === false ? 'disabled' : 'usable');
          const waiting = this.pending.splice(0);
          for (const entry of waiting) {
            const state = this.listed.get(entry.name.toLowerCase());
            if (state) entry.settle(Promise.resolve(state));
            else this.pending.push(entry);
          }
        },
        (error: unknown) => {
          this.listing = false;
          if (!forbidden(error)) for (const { settle } of this.pending.splice(0)) settle(rethrown(error));
        },
      )
      .finally(() => {
        this.paging = false;
        this.pump();
      });
  }

  /** Reads the key `name` on its own. */
  private async get(name: string): Promise<KeyState> {
    try {
      const key = await this.gets.use(() => this.all.use(() => findKey(this.deps, this.uri, name)));
      if (!key) return 'absent';
      return key.properties.enabled === false ? 'disabled' : 'usable';
    } catch (error) {
      if (!forbidden(error)) throw error;
      return 'unreadable';
    }
  }
}

/** True for a 403 from Key Vault, classified (its cause) or not. */
function forbidden(error: unknown): boolean {
  return isForbidden((error as { cause?: unknown }).cause ?? error) || isForbidden(error);
}

/** A promise that fails with `error`, as the call that threw it would. */
async function rethrown(error: unknown): Promise<never> {
  throw error;
}

/**
 * Keys {@link VaultKeys} reads at once, one by one, in one vault. A fleet reads them twice before
 * it rotates (its plan, and again when the approval is confirmed), so every second of it delays
 * the first rotation. 32 at Key Vault's ~200 ms a read is at most 160 GETs a second, 1,600 per
 * 10 s, under Key Vault's 4,000 GETs per vault per 10 s. Vaults are read side by side, under Key
 * Vault's subscription-wide limit of five times a vault's (service limits) by {@link KEY_READERS}.
 */
const KEY_READERS_PER_VAULT = 32;
/** Key Vault requests at once across vaults: 640 a second at most, under the subscription's 2,000. */
const KEY_READERS = 128;

/** At most `size` calls of {@link use} run at once; the rest wait their turn in order. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
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
