/**
 * Story helpers for the local Azure tests: a fresh emulator per file (own data folder), and a
 * CMK-ready vault with a key made through the real SDK clients.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalAzure, type LocalAzure, type LocalAzureOptions } from '../../src/local-azure';
import { clientsFor, RG_KEYS } from './clients';

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

/** Creates an access-policy vault with purge protection (runbook: all key permissions) and an RSA key. */
export async function createCmkVault(
  local: LocalAzure,
  vaultName: string,
  keyName = 'cmk',
  purgeProtection = true,
) {
  const c = clientsFor(local);
  await c.keyVault.vaults.beginCreateOrUpdateAndWait(
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
  const key = await c.keys(vaultName).createRsaKey(keyName, { keySize: 2048 });
  return { vaultUri: `https://${vaultName}.vault.azure.net/`, key };
}
