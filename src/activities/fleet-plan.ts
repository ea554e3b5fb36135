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
import { encryptionOf } from './azure-state';
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
  input: { accounts: AccountRef[]; groups?: AccountGroup[]; selection?: string },
): Promise<FleetPlan> {
  const refs = [...(input.accounts ?? []), ...ungroupAccounts(input.groups)].map((a, i) =>
    validateAccountRef(a, `accounts[${i}]`),
  );
  const live = await readAccounts(deps, refs);
  const keyProblems = await readKeys(deps, [...live.values()]);
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
  return { plan, skip };
}

/** The selected accounts as ARM lists them, by lowercase resource id. */
async function readAccounts(deps: ActivityDeps, refs: AccountRef[]): Promise<Map<string, StorageAccount>> {
  const found = new Map<string, StorageAccount>();
  const subscriptions = [...new Set(refs.map((r) => r.subscriptionId.toLowerCase()))];
  for (const subscriptionId of subscriptions) {
    await call({ what: `storage accounts in subscription ${subscriptionId}` }, async () => {
      for await (const a of deps.azure
        .storage(subscriptionId)
        .storageAccounts.list({ abortSignal: abortSignal() }))
        if (a.id) found.set(a.id.toLowerCase(), a);
    });
  }
  return found;
}

/** Why each distinct key of the accounts cannot be rotated, by `<vault uri>|<key>`; usable keys are absent. */
async function readKeys(deps: ActivityDeps, accounts: StorageAccount[]): Promise<Map<string, string>> {
  const keys = new Map<string, { uri: string; name: string }>();
  for (const a of accounts) {
    const enc = encryptionOf(a);
    if (enc.keySource === 'Microsoft.Keyvault' && enc.vaultUri && enc.keyName)
      keys.set(`${enc.vaultUri}|${enc.keyName}`.toLowerCase(), { uri: enc.vaultUri, name: enc.keyName });
  }
  // Read by several readers at once: one after another, a fleet of 1,000 keys at Key Vault's
  // ~200 ms a read outlasts the activity's two minutes. Kept in key order for the fingerprint.
  const entries = [...keys];
  const found: (string | undefined)[] = [];
  const problemOf = async ([, { uri, name }]: (typeof entries)[number]): Promise<string | undefined> => {
    const label = `${new URL(uri).hostname.split('.')[0]}/${name}`;
    try {
      const key = await findKey(deps, uri, name);
      if (!key) return `uses key ${label}, which no longer exists`;
      if (key.properties.enabled === false) return `uses key ${label}, which is disabled`;
      return undefined;
    } catch (error) {
      if (!isForbidden((error as { cause?: unknown }).cause ?? error) && !isForbidden(error)) throw error;
      return `uses key ${label}, which the runbook may not read`;
    }
  };
  // The vaults side by side, at most KEY_READERS reads at once in all; each vault's keys by its
  // share of those readers (each holds a connection of its own, a TLS handshake the first time),
  // at most KEY_READERS_PER_VAULT.
  const slots = new Slots(KEY_READERS);
  const byVault = new Map<string, number[]>();
  entries.forEach(([, { uri }], i) => {
    const vault = uri.toLowerCase();
    const indexes = byVault.get(vault) ?? [];
    indexes.push(i);
    byVault.set(vault, indexes);
  });
  const readers: Promise<void>[] = [];
  for (const indexes of byVault.values()) {
    let next = 0;
    const reader = async (): Promise<void> => {
      for (let k = next++; k < indexes.length; k = next++) {
        const i = indexes[k]!;
        found[i] = await slots.use(() => problemOf(entries[i]!));
      }
    };
    const share = Math.ceil((KEY_READERS * indexes.length) / entries.length);
    for (let r = 0; r < Math.min(share, KEY_READERS_PER_VAULT); r++) readers.push(reader());
  }
  await Promise.all(readers);
  const problems = new Map<string, string>();
  entries.forEach(([id], i) => {
    const problem = found[i];
    if (problem !== undefined) problems.set(id, problem);
  });
  return problems;
}

/**
 * Keys {@link readKeys} reads at once in one vault. A fleet reads them twice before it rotates
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
