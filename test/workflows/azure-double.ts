/**
 * An in-memory stand-in for the activities, for workflow tests about ordering, approvals and
 * faults at the activity boundary: it keeps accounts, vaults, keys and grants, derives plans and
 * fingerprints from that state, and lets a test inject activity failures and hold an activity.
 * What Azure does is tested against the local Azure with the real activities, not here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AccountRef } from '../../src/shared/accounts';
import { vaultUri } from '../../src/shared/accounts';
import type { CmkActivities, InspectInput, VaultState } from '../../src/shared/activities';
import {
  PLAN_FACETS,
  type EncryptionSettings,
  type Plan,
  type PlanFacet,
  type Step,
} from '../../src/shared/plan';
import type { KeyChoice } from '../../src/shared/runbooks';
import { extraActivities } from './azure-double-extras';

/** A storage account as the double keeps it. */
export interface AccountModel {
  ref: AccountRef;
  location: string;
  encryption: EncryptionSettings;
  principalId?: string;
}

/** A vault with its keys and the principals granted key access. */
export interface VaultModel {
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  location: string;
  softDelete: boolean;
  purgeProtection: boolean;
  grants: Set<string>;
  keys: Map<
    string,
    {
      choice: KeyChoice;
      versions: { version: string; enabled: boolean; runId?: string; previous?: string }[];
    }
  >;
  rotationPolicy?: Record<string, string | undefined>;
}

type Chat = Pick<CmkActivities, 'postRunCard' | 'updateRunCard' | 'sendChatText'>;

/** Test subscription and resource group. */
export const SUBSCRIPTION = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';

/** The in-memory Azure. */
export class AzureDouble {
  /** The key each account uses (`<vault uri>keys/<name>`, lower case), null when not on CMK. */
  keysInUse(accounts: AccountRef[]): (string | null)[] {
    return accounts.map((a) => {
      const e = this.accounts.get(a.name)?.encryption;
      return e?.keySource === 'Microsoft.Keyvault' && e.vaultUri && e.keyName
        ? `${e.vaultUri.toLowerCase()}keys/${e.keyName.toLowerCase()}`
        : null;
    });
  }

  readonly accounts = new Map<string, AccountModel>();
  readonly vaults = new Map<string, VaultModel>();
  /** Mutating calls that changed something, in order (exactly-once assertions count these). */
  readonly changes: string[] = [];
  /** The most rotations that ran at the same time (fleet concurrency assertions). */
  maxConcurrentRotations = 0;
  private rotating = 0;
  private readonly faults = new Map<string, { type: string; message: string; times: number }>();
  private readonly holds = new Map<
    string,
    { release: () => void; reached: () => void; promise: Promise<void> }
  >();

  /** Adds a storage account on Microsoft-managed keys. */
  addAccount(name: string, resourceGroup = 'rg-storage', location = 'eastus'): AccountRef {
    const ref = { subscriptionId: SUBSCRIPTION, resourceGroup, name };
    this.accounts.set(name, { ref, location, encryption: { keySource: 'Microsoft.Storage' } });
    return ref;
  }

  /** Adds a vault (default: soft delete and purge protection on). */
  addVault(name: string, opts: Partial<Pick<VaultModel, 'softDelete' | 'purgeProtection'>> = {}): VaultModel {
    const vault: VaultModel = {
      name,
      resourceGroup: 'rg-keys',
      subscriptionId: SUBSCRIPTION,
      location: 'eastus',
      softDelete: opts.softDelete ?? true,
      purgeProtection: opts.purgeProtection ?? true,
      grants: new Set(),
      keys: new Map(),
    };
    this.vaults.set(name.toLowerCase(), vault);
    return vault;
  }

  /**
   * Adds an account already on a customer-managed key in its own vault (granted, key enabled), or
   * on the key `sharesKeyWith` uses.
   */
  addCmkAccount(
    name: string,
    { pinned = false, sharesKeyWith }: { pinned?: boolean; sharesKeyWith?: AccountRef } = {},
  ): AccountRef {
    if (sharesKeyWith) {
      const ref = this.addAccount(name);
      const shared = this.account(sharesKeyWith.name);
      const account = this.account(name);
      account.principalId = `0000${randomBytes(4).toString('hex')}-0000-4000-8000-000000000000`;
      this.vaultByUri(shared.encryption.vaultUri)!.grants.add(account.principalId);
      account.encryption = { ...shared.encryption };
      return ref;
    }
    const ref = this.addAccount(name);
    const vault = this.addVault(`kv-${name}`.slice(0, 24));
    const version = randomBytes(16).toString('hex');
    vault.keys.set('cmk-key', {
      choice: { name: 'cmk-key', type: 'RSA', size: 3072 },
      versions: [{ version, enabled: true }],
    });
    const account = this.account(name);
    account.principalId = `0000${randomBytes(4).toString('hex')}-0000-4000-8000-000000000000`;
    vault.grants.add(account.principalId);
    account.encryption = {
      keySource: 'Microsoft.Keyvault',
      vaultUri: vaultUri(vault.name),
      keyName: 'cmk-key',
      keyVersion: pinned ? version : '',
      identity: 'SystemAssigned',
    };
    return ref;
  }

  /** The next call of `activity` fails `times` times with a non-retryable failure of `type`. */
  failNext(activity: keyof CmkActivities, type: string, message: string, times = 1): void {
    this.faults.set(activity, { type, message, times });
  }

  /** Holds the next call of `activity` until released; `reached` resolves when a call is waiting. */
  hold(activity: keyof CmkActivities): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let reached!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    const reachedPromise = new Promise<void>((r) => (reached = r));
    this.holds.set(activity, { release, reached, promise });
    return { reached: reachedPromise, release };
  }

  account(name: string): AccountModel {
    const account = this.accounts.get(name);
    if (!account)
      throw ApplicationFailure.nonRetryable(`Storage account ${name} was not found.`, 'AccountNotFound');
    return account;
  }

  /** Whether the account's data plane can reach its key now. */
  dataAccess(name: string): 'allowed' | 'denied' {
    const { encryption, principalId } = this.account(name);
    if (encryption.keySource === 'Microsoft.Storage') return 'allowed';
    const vault = this.vaultByUri(encryption.vaultUri);
    const key = vault?.keys.get(encryption.keyName ?? '');
    const version = encryption.keyVersion || key?.versions.at(-1)?.version;
    const usable = key?.versions.find((v) => v.version === version)?.enabled === true;
    return vault && principalId && vault.grants.has(principalId) && usable ? 'allowed' : 'denied';
  }

  private vaultByUri(uri: string | undefined): VaultModel | undefined {
    return [...this.vaults.values()].find((v) => vaultUri(v.name) === uri);
  }

  private async enter(activity: string): Promise<void> {
    const hold = this.holds.get(activity);
    if (hold) {
      this.holds.delete(activity);
      hold.reached();
      await heldUntil(hold.promise);
    }
    const fault = this.faults.get(activity);
    if (fault && fault.times > 0) {
      fault.times--;
      throw ApplicationFailure.nonRetryable(fault.message, fault.type);
    }
  }

  private plan(input: InspectInput): Plan {
    const account = this.account(input.account.name);
    const req = input.request;
    const steps: Step[] = [];
    const blockers: Plan['blockers'] = [];
    const irreversible: string[] = [];
    const before = { ...account.encryption };
    let after: EncryptionSettings = before;
    const cmk = before.keySource === 'Microsoft.Keyvault';
    const current = this.vaultByUri(before.vaultUri);
    let vault = current;
    if (req.operation === 'configure' || req.operation === 'changeKey') {
      const name = req.vault?.name ?? current?.name ?? '';
      vault = this.vaults.get(name.toLowerCase());
      if (vault && !vault.softDelete) {
        blockers.push({
          code: 'SoftDeleteMissing',
          message: `${vault.name} has no soft delete.`,
          fix: 'Use a vault with soft delete.',
        });
      }
      if (!vault || !vault.purgeProtection) irreversible.push('Purge protection on');
      steps.push({
        id: 'vault',
        title: 'Key Vault',
        destructive: false,
        irreversible: !vault?.purgeProtection,
        skip: !!vault?.purgeProtection,
      });
      steps.push({
        id: 'key',
        title: 'Key',
        destructive: false,
        irreversible: false,
        skip: !!vault?.keys.has(req.key.name),
      });
      steps.push({ id: 'grant', title: 'Key access', destructive: false, irreversible: false });
      steps.push({
        id: req.operation === 'configure' ? 'enable' : 'switch',
        title: 'Enable CMK',
        destructive: req.operation === 'changeKey',
        irreversible: false,
      });
      after = {
        keySource: 'Microsoft.Keyvault',
        vaultUri: vaultUri(name),
        keyName: req.key.name,
        keyVersion: req.pinVersion ? 'pinned' : '',
      };
    } else {
      if (!cmk)
        blockers.push({
          code: 'CmkNotEnabled',
          message: `${account.ref.name} does not use a customer-managed key.`,
          fix: 'Run configure first.',
        });
      const id = {
        rotate: 'rotate',
        revoke: 'revoke',
        disable: 'disable',
        setRotationPolicy: 'rotationPolicy',
        updateVersion: 'version',
        restoreAccess: 'grant',
      } as const;
      steps.push({
        id: id[req.operation],
        title: req.operation,
        destructive: req.operation === 'revoke' || req.operation === 'disable',
        irreversible: false,
      });
      if (req.operation === 'disable') after = { keySource: 'Microsoft.Storage' };
    }
    const version = this.versionInUse(account);
    if (req.operation === 'revoke' && req.disableKey)
      steps.push({
        id: 'disableKey',
        title: 'Disable the key version',
        destructive: true,
        irreversible: false,
      });
    const destructive = steps.some((s) => s.destructive);
    const state = JSON.stringify({
      encryption: account.encryption,
      principal: account.principalId ?? null,
      vault: vault
        ? {
            pp: vault.purgeProtection,
            sd: vault.softDelete,
            keys: [...vault.keys.entries()].map(([k, v]) => [k, v.versions]),
          }
        : null,
    });
    const hash = (value: unknown) =>
      createHash('sha256')
        .update(JSON.stringify(value ?? null))
        .digest('hex');
    const facetState: Record<PlanFacet, unknown> = {
      encryption: account.encryption,
      identity: account.principalId,
      vault: vault && { pp: vault.purgeProtection, sd: vault.softDelete },
      key: vault && [...vault.keys.entries()].map(([k, v]) => [k, v.versions]),
      grant: vault && account.principalId ? vault.grants.has(account.principalId) : false,
    };
    return {
      operation: req.operation,
      account: account.ref,
      location: account.location,
      vault: vault
        ? {
            name: vault.name,
            resourceGroup: vault.resourceGroup,
            subscriptionId: vault.subscriptionId,
            exists: true,
            softDelete: vault.softDelete,
            purgeProtection: vault.purgeProtection,
            rbac: true,
            location: vault.location,
          }
        : undefined,
      steps,
      blockers,
      warnings: [],
      before,
      after,
      destructive,
      irreversible,
      fingerprint: createHash('sha256').update(state).digest('hex'),
      facets: Object.fromEntries(PLAN_FACETS.map((f) => [f, hash(facetState[f])])),
      ...(req.operation === 'revoke' && current
        ? {
            revocation: {
              principalId: account.principalId ?? '',
              keyId: `${current.name}/${before.keyName}`,
              remove: [],
              keep: [],
              ...(req.disableKey && version ? { disableKeyVersion: version } : {}),
            },
          }
        : {}),
    };
  }

  /** The key version an account uses: its pinned one, else the key's newest. */
  private versionInUse(account: AccountModel): string | undefined {
    const key = this.vaultByUri(account.encryption.vaultUri)?.keys.get(account.encryption.keyName ?? '');
    return account.encryption.keyVersion || key?.versions.at(-1)?.version;
  }

  /** The activity implementations, plus the chat activities given. */
  activities(chat: Chat): CmkActivities {
    const changed = (what: string): void => void this.changes.push(what);
    // The rotation's version, found by its tag or made (and remembered with the version before it).
    const versionFor = (name: string, runId: string) => {
      const model = this.account(name);
      const key = this.vaultByUri(model.encryption.vaultUri)!.keys.get(model.encryption.keyName!)!;
      const found = key.versions.find((v) => v.runId === runId);
      if (found) return { latest: found, made: false };
      const latest = {
        version: randomBytes(16).toString('hex'),
        enabled: true,
        runId,
        previous: key.versions.at(-1)?.version,
      };
      key.versions.push(latest);
      changed(`rotate:${name}`);
      return { latest, made: true };
    };
    const vaultOf = (state: VaultState): VaultModel => {
      const vault = this.vaults.get(state.name.toLowerCase());
      if (!vault)
        throw ApplicationFailure.nonRetryable(`Vault ${state.name} was not found.`, 'VaultNotFound');
      return vault;
    };
    return {
      ...chat,
      ...extraActivities(this),
      inspect: async (input) => {
        await this.enter('inspect');
        return this.plan(input);
      },
      ensureVault: async ({ account, vault, location }) => {
        await this.enter('ensureVault');
        let model = this.vaults.get(vault.name.toLowerCase());
        const created = !model;
        if (!model) {
          model = this.addVault(vault.name);
          model.resourceGroup = vault.resourceGroup ?? account.resourceGroup;
          model.location = location;
          changed(`vault:${vault.name}`);
        }
        const turnedOn = !model.purgeProtection;
        if (turnedOn) {
          model.purgeProtection = true;
          changed(`purgeProtection:${vault.name}`);
        }
        return {
          name: model.name,
          resourceGroup: model.resourceGroup,
          subscriptionId: model.subscriptionId,
          vaultUri: vaultUri(model.name),
          rbac: true,
          created,
          purgeProtectionEnabled: turnedOn,
        };
      },
      assignIdentity: async ({ account }) => {
        await this.enter('assignIdentity');
        const model = this.account(account.name);
        const isNew = !model.principalId;
        if (isNew) {
          model.principalId = `0000${randomBytes(4).toString('hex')}-0000-4000-8000-000000000000`;
          changed(`identity:${account.name}`);
        }
        return { identity: 'SystemAssigned', principalId: model.principalId!, changed: isNew };
      },
      grantKeyAccess: async ({ vault, principalId }) => {
        await this.enter('grantKeyAccess');
        const model = vaultOf(vault);
        const isNew = !model.grants.has(principalId);
        if (isNew) {
          model.grants.add(principalId);
          changed(`grant:${vault.name}:${principalId}`);
        }
        return { mode: 'rbac', principalId, effectiveAfterMs: 0, changed: isNew };
      },
      ensureKey: async ({ vault, key, runId }) => {
        await this.enter('ensureKey');
        const model = vaultOf(vault);
        let entry = model.keys.get(key.name);
        let created = false;
        if (!entry) {
          entry = {
            choice: key,
            versions: [{ version: randomBytes(16).toString('hex'), enabled: true, runId }],
          };
          model.keys.set(key.name, entry);
          created = true;
          changed(`key:${vault.name}/${key.name}`);
        }
        const version = entry.versions.at(-1)!.version;
        return {
          vaultName: model.name,
          vaultUri: vaultUri(model.name),
          name: key.name,
          version,
          kid: `${vaultUri(model.name)}keys/${key.name}/${version}`,
          created,
        };
      },
      enableCmk: async ({ account, key, identity, pinVersion }) => {
        await this.enter('enableCmk');
        const model = this.account(account.name);
        model.encryption = {
          keySource: 'Microsoft.Keyvault',
          vaultUri: key.vaultUri,
          keyName: key.name,
          keyVersion: pinVersion ? key.version : '',
          identity,
        };
        changed(`enable:${account.name}`);
        return model.encryption;
      },
      restoreEncryption: async ({ account, settings }) => {
        await this.enter('restoreEncryption');
        this.account(account.name).encryption = { ...settings };
        changed(`restore:${account.name}`);
        return settings;
      },
      getEncryption: async ({ account }) => {
        await this.enter('getEncryption');
        return { ...this.account(account.name).encryption };
      },
      keysInUse: async ({ accounts }) => {
        await this.enter('keysInUse');
        return this.keysInUse(accounts);
      },
      makeKeyVersion: async ({ account, runId: run, rotationId }) => {
        await this.enter('makeKeyVersion');
        const { latest, made } = versionFor(account.name, rotationId || run);
        return { newVersion: latest.version, made };
      },
      rotateKey: async ({ account, runId: run, rotationId }) => {
        await this.enter('rotateKey');
        this.rotating++;
        this.maxConcurrentRotations = Math.max(this.maxConcurrentRotations, this.rotating);
        await new Promise((r) => setTimeout(r, 50));
        this.rotating--;
        const model = this.account(account.name);
        const { latest } = versionFor(account.name, rotationId || run);
        const previousVersion = latest.previous;
        if (model.encryption.keyVersion)
          model.encryption = { ...model.encryption, keyVersion: latest.version };
        return {
          newVersion: latest.version,
          previousVersion,
          accountState: model.encryption.keyVersion ? 'moved' : 'pending',
          encryption: model.encryption,
        };
      },
      setRotationPolicy: async ({ account, ...policy }) => {
        await this.enter('setRotationPolicy');
        const vault = this.vaultByUri(this.account(account.name).encryption.vaultUri)!;
        vault.rotationPolicy = policy;
        changed(`rotationPolicy:${vault.name}`);
        return policy;
      },
      revokeAccess: async ({ account, disableKey }) => {
        await this.enter('revokeAccess');
        const model = this.account(account.name);
        const vault = this.vaultByUri(model.encryption.vaultUri)!;
        const had = vault.grants.delete(model.principalId ?? '');
        if (had) changed(`revoke:${account.name}`);
        if (disableKey)
          for (const v of vault.keys.get(model.encryption.keyName!)?.versions ?? []) v.enabled = false;
        return { removed: had ? 'roleAssignment' : 'none', keyDisabled: disableKey };
      },
      disableKeyVersion: async ({ account, version }) => {
        await this.enter('disableKeyVersion');
        const model = this.account(account.name);
        const key = this.vaultByUri(model.encryption.vaultUri)?.keys.get(model.encryption.keyName!);
        const found = key?.versions.find((v) => v.version === version);
        if (!found)
          throw ApplicationFailure.nonRetryable(`Key version ${version} was not found.`, 'KeyNotFound');
        if (found.enabled) changed(`disableKey:${account.name}`);
        found.enabled = false;
        return { keyId: `${model.encryption.vaultUri}keys/${model.encryption.keyName}/${version}` };
      },
      disableCmk: async ({ account }) => {
        await this.enter('disableCmk');
        const model = this.account(account.name);
        model.encryption = { keySource: 'Microsoft.Storage' };
        changed(`disable:${account.name}`);
        return model.encryption;
      },
      probeDataAccess: async ({ account }) => {
        await this.enter('probeDataAccess');
        const state = this.dataAccess(account.name);
        return {
          state,
          errorCode: state === 'denied' ? 'KeyVaultEncryptionKeyNotFound' : undefined,
          tookMs: 0,
          attempts: 1,
        };
      },
    };
  }
}

/** Waits for the release, heartbeating so a worker shutdown can cancel the held activity. */
async function heldUntil(release: Promise<void>): Promise<void> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 100);
  try {
    await Promise.race([release, ctx.cancelled]);
  } finally {
    clearInterval(timer);
  }
}
