/**
 * The Azure state a plan depends on, read without changing anything, and its fingerprint:
 * a sha256 of canonical JSON, so any change to it voids approvals given on the old plan.
 */
import { createHash } from 'node:crypto';
import type { StorageAccount } from '@azure/arm-storage';
import type { Vault } from '@azure/arm-keyvault';
import { vaultId, type VaultRef } from '../shared/accounts';
import {
  PLAN_FACETS,
  type EncryptionSettings,
  type KeySummary,
  type PlanFacet,
  type VaultSummary,
} from '../shared/plan';
import type { KeySize, KeyType } from '../shared/names';
import { armScope, keyScope, roleAssignmentName } from './access';
import { encryptionOf, findVault } from './azure-state';
import { CRYPTO_SERVICE_ENCRYPTION_USER, STORAGE_KEY_PERMISSIONS, type ActivityDeps } from './deps';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { classifyError, isForbidden, isNotFound } from './errors';
import { findKey, keySizeOf, withoutOwnTags } from './keys';
import { abortSignal } from './runtime';

/** A vault and what the plan needs to know about it. */
export interface VaultView {
  ref: VaultRef;
  vault?: Vault;
  summary: VaultSummary;
}

/** Reads a vault (absent is fine) into a summary. */
export async function readVault(deps: ActivityDeps, ref: VaultRef): Promise<VaultView> {
  return vaultView(ref, await findVault(deps, ref));
}

/** A vault already read (e.g. from a listing) into a summary. */
export function vaultView(ref: VaultRef, vault: Vault | undefined): VaultView {
  const p = vault?.properties;
  const acls = p?.networkAcls;
  const summary: VaultSummary = {
    ...ref,
    exists: !!vault,
    ...(vault
      ? {
          softDelete: p?.enableSoftDelete !== false,
          purgeProtection: p?.enablePurgeProtection === true,
          rbac: p?.enableRbacAuthorization === true,
          sku: p?.sku?.name === 'premium' ? 'premium' : 'standard',
          location: vault.location,
          trustedServicesBypass: acls?.defaultAction !== 'Deny' || acls?.bypass === 'AzureServices',
        }
      : {}),
  };
  return { ref, vault, summary };
}

/** Reads a key's latest version and version count; `readable: false` when the runbook may not look. */
export async function readKey(
  deps: ActivityDeps,
  vault: VaultView,
  name: string,
): Promise<{ summary: KeySummary; readable: boolean; firewall?: boolean }> {
  const base: KeySummary = { vaultName: vault.ref.name, name, exists: false };
  const uri = vault.vault?.properties?.vaultUri;
  if (!vault.vault || !uri) return { summary: base, readable: true };
  try {
    // Both reads go at once: a plan waits for Key Vault once, not twice.
    const [key, versions] = await Promise.all([findKey(deps, uri, name), countVersions(deps, uri, name)]);
    if (!key) {
      const softDeleted = await isSoftDeleted(deps, uri, name);
      return { summary: { ...base, ...(softDeleted ? { softDeleted } : {}) }, readable: true };
    }
    const tags = Object.keys(withoutOwnTags(key.properties.tags)).length;
    return {
      summary: {
        ...base,
        exists: true,
        type: key.keyType as KeyType,
        size: keySizeOf(key) as KeySize,
        enabled: key.properties.enabled !== false,
        ...(key.properties.expiresOn ? { expiresOn: key.properties.expiresOn.toISOString() } : {}),
        ...(key.properties.notBefore ? { notBefore: key.properties.notBefore.toISOString() } : {}),
        latestVersion: key.properties.version,
        versions,
        ...(tags ? { tags } : {}),
      },
      readable: true,
    };
  } catch (error) {
    // The vault's firewall refuses before any permission is looked at: no grant would help.
    if ((classifyError(error) as { type?: string }).type === CMK_ERROR_TYPES.ForbiddenByFirewall)
      return { summary: base, readable: false, firewall: true };
    if (isForbidden((error as { cause?: unknown }).cause ?? error)) return { summary: base, readable: false };
    throw error;
  }
}

/**
 * Whether a soft-deleted key holds the name (Get Deleted Key). A runbook without the right to
 * read deleted keys learns it at creation instead (409 ObjectIsDeletedButRecoverable).
 */
async function isSoftDeleted(deps: ActivityDeps, uri: string, name: string): Promise<boolean> {
  try {
    await deps.azure.keys(uri).getDeletedKey(name, { abortSignal: abortSignal() });
    return true;
  } catch (error) {
    if (isNotFound(error) || isForbidden(error)) return false;
    throw error;
  }
}

/** How many versions the key has (0 when it does not exist). */
async function countVersions(deps: ActivityDeps, uri: string, name: string): Promise<number> {
  let versions = 0;
  try {
    for await (const v of deps.azure
      .keys(uri)
      .listPropertiesOfKeyVersions(name, { abortSignal: abortSignal() })) {
      void v;
      versions++;
    }
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
  return versions;
}

/** Whether the principal already holds storage's key access, and the evidence for the fingerprint. */
export async function readGrant(
  deps: ActivityDeps,
  vault: VaultView,
  principalId: string | undefined,
  keyName: string,
): Promise<{ granted: boolean; evidence: unknown }> {
  if (!vault.vault || !principalId) return { granted: false, evidence: null };
  if (vault.summary.rbac) {
    const scope = keyScope(vault.ref, keyName);
    try {
      const assignment = await deps.azure
        .authorization(vault.ref.subscriptionId)
        .roleAssignments.get(
          armScope(scope),
          roleAssignmentName(scope, CRYPTO_SERVICE_ENCRYPTION_USER, principalId),
          {
            abortSignal: abortSignal(),
          },
        );
      return { granted: true, evidence: assignment.id ?? scope };
    } catch (error) {
      if (isNotFound(error)) return { granted: false, evidence: null };
      throw error;
    }
  }
  const entry = vault.vault.properties?.accessPolicies?.find(
    (e) => e.objectId?.toLowerCase() === principalId.toLowerCase(),
  );
  const keys = (entry?.permissions?.keys ?? []).map((k) => k.toLowerCase()).sort();
  const granted =
    keys.includes('all') || STORAGE_KEY_PERMISSIONS.every((p) => keys.includes(p.toLowerCase()));
  return { granted, evidence: keys };
}

/** The identity facts of an account that a plan depends on. */
export function identityFacts(account: StorageAccount): unknown {
  return {
    type: account.identity?.type ?? 'None',
    principalId: account.identity?.principalId ?? null,
    users: Object.keys(account.identity?.userAssignedIdentities ?? {})
      .map((id) => id.toLowerCase())
      .sort(),
  };
}

/**
 * sha256 over canonical JSON of the state the plan depends on, and of each part of it (a facet),
 * so a re-check can tell which part changed.
 */
export function fingerprintOf(state: {
  account: StorageAccount;
  vault?: VaultView;
  key?: KeySummary;
  grant?: unknown;
}): { fingerprint: string; facets: Record<PlanFacet, string> } {
  const enc: EncryptionSettings = encryptionOf(state.account);
  const v = state.vault;
  const material: Record<PlanFacet, unknown> = {
    encryption: { ...enc, lastKeyRotation: undefined },
    identity: identityFacts(state.account),
    vault: v
      ? { id: vaultId(v.ref).toLowerCase(), ...v.summary, acls: v.vault?.properties?.networkAcls ?? null }
      : null,
    key: state.key ?? null,
    grant: state.grant ?? null,
  };
  const hash = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex');
  const facets = Object.fromEntries(PLAN_FACETS.map((f) => [f, hash(material[f])])) as Record<
    PlanFacet,
    string
  >;
  return { fingerprint: hash(material), facets };
}

/** JSON with object keys sorted at every level and undefined dropped. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}
