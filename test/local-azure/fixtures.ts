/**
 * Story helpers for the local Azure tests: a fresh emulator per file (own data folder), and a
 * CMK-ready vault with a key made through the real SDK clients.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalAzure, type LocalAzure, type LocalAzureOptions } from '../../src/local-azure';
import { ClientSecretCredential } from '@azure/identity';
import { clientsFor, RG_KEYS, RG_STORAGE } from './clients';

/** The seeded runbook service principal. */
export const RUNBOOK_OID = '5d2e8f71-3c4b-4f0a-8e6d-00000000a991';

/** Starts an emulator with a private data folder and a minute of propagation, which tests skip with the clock. */
export function startForTest(options: LocalAzureOptions = {}): Promise<LocalAzure> {
  return startLocalAzure({
    dataDir: mkdtempSync(path.join(tmpdir(), 'local-azure-')),
    propagation: { roleAssignmentMs: 60_000, revocationMs: 60_000 },
    ...options,
  });
}

/** Creates an access-policy vault (runbook: all key permissions), with purge protection unless told otherwise, and no key. */
export async function createVault(
  local: LocalAzure,
  vaultName: string,
  purgeProtection = true,
): Promise<void> {
  await clientsFor(local).keyVault.vaults.beginCreateOrUpdateAndWait(
    RG_KEYS,
    vaultName,
    {
      location: 'eastus',
      properties: {
        tenantId: local.tenantId,
        sku: { family: 'A', name: 'standard' },
        enableRbacAuthorization: false,
        ...(purgeProtection ? { enablePurgeProtection: true } : {}),
        accessPolicies: [{ tenantId: local.tenantId, objectId: RUNBOOK_OID, permissions: { keys: ['all'] } }],
      },
    },
    { updateIntervalInMs: 5 },
  );
}

/** Creates an access-policy vault with purge protection (runbook: all key permissions) and an RSA key. */
export async function createCmkVault(
  local: LocalAzure,
  vaultName: string,
  keyName = 'cmk',
  purgeProtection = true,
) {
  await createVault(local, vaultName, purgeProtection);
  const key = await clientsFor(local).keys(vaultName).createRsaKey(keyName, { keySize: 2048 });
  return { vaultUri: `https://${vaultName}.vault.azure.net/`, key };
}

/** Gives a seeded account a system-assigned identity that may get, wrap and unwrap with the vault's keys (access policy); returns its principal id. */
export async function grantAccountKeyAccess(
  local: LocalAzure,
  account: string,
  vaultName: string,
): Promise<string> {
  const c = clientsFor(local);
  const updated = await c.storage.storageAccounts.update(RG_STORAGE, account, {
    identity: { type: 'SystemAssigned' },
  });
  const objectId = updated.identity!.principalId!;
  await c.keyVault.vaults.updateAccessPolicy(RG_KEYS, vaultName, 'add', {
    properties: {
      accessPolicies: [
        { tenantId: local.tenantId, objectId, permissions: { keys: ['get', 'wrapKey', 'unwrapKey'] } },
      ],
    },
  });
  return objectId;
}

/** A service principal that signs in with a client secret (added by {@link addWrapOnlyPrincipal}). */
export const WRAPPER = {
  objectId: '7a1e0c55-0000-4000-8000-00000000beef',
  appId: '7a1e0c55-0000-4000-8000-00000000a99f',
  secret: 'wrapper-local-secret',
};

/** Drops the SDK's undefined fields so shapes compare by value. */
export const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/** Adds {@link WRAPPER}, allowed only to wrap and unwrap with the vault's keys; returns its credential. */
export async function addWrapOnlyPrincipal(
  local: LocalAzure,
  vaultName: string,
): Promise<ClientSecretCredential> {
  const principal = WRAPPER;
  local.state.addPrincipal({
    objectId: principal.objectId,
    kind: 'ServicePrincipal',
    displayName: 'wrapper',
    appId: principal.appId,
    clientSecret: principal.secret,
  });
  await clientsFor(local).keyVault.vaults.updateAccessPolicy(RG_KEYS, vaultName, 'add', {
    properties: {
      accessPolicies: [
        {
          tenantId: local.tenantId,
          objectId: principal.objectId,
          permissions: { keys: ['wrapKey', 'unwrapKey'] },
        },
      ],
    },
  });
  return new ClientSecretCredential(local.tenantId, principal.appId, principal.secret, {
    agent: local.agent,
  });
}

/**
 * Puts a seeded-or-added account on a customer-managed key through the SDK clients: a new
 * access-policy vault with purge protection, an RSA key, the account's system identity granted,
 * CMK on (pinned to the key's version, or versionless). Returns the vault and version.
 */
export async function cmkAccountOn(
  local: LocalAzure,
  account: string,
  { pinned = false, vaultName = `kv-${Math.random().toString(36).slice(2, 10)}`, keyName = 'cmk' } = {},
): Promise<{ vaultName: string; keyName: string; version: string }> {
  const { vaultUri, key } = await createCmkVault(local, vaultName, keyName);
  await grantAccountKeyAccess(local, account, vaultName);
  const version = key.properties.version!;
  await clientsFor(local).storage.storageAccounts.update(RG_STORAGE, account, {
    encryption: {
      keySource: 'Microsoft.Keyvault',
      keyVaultProperties: { keyName, keyVaultUri: vaultUri, keyVersion: pinned ? version : '' },
    },
  });
  return { vaultName, keyName, version };
}
