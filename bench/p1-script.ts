/**
 * The scripts P1 compares the runbook with: the same SDK calls a rotation of a pinned account
 * needs (a new key version, then a PATCH of the account's key version), with the production
 * client factory and the SDK's default retry policy, without the worker's ARM pacing, and
 * nothing else.
 */
import type { LocalAzure } from '../src/local-azure';
import { kitAzureOf } from '../test/kit';
import type { FleetAccount } from './p1-seed';

/** A function that rotates one seeded account's key and pins the account to the new version. */
export function rotateWithScript(local: LocalAzure): (f: FleetAccount) => Promise<void> {
  const azure = kitAzureOf(local).clients({ armBudget: false });
  return async (f) => {
    const keyVaultUri = `https://${f.vaultName}.vault.azure.net/`;
    const key = await azure.keys(keyVaultUri).createRsaKey(f.keyName, { keySize: 2048 });
    await azure
      .storage(f.account.subscriptionId)
      .storageAccounts.update(f.account.resourceGroup, f.account.name, {
        encryption: {
          keySource: 'Microsoft.Keyvault',
          keyVaultProperties: { keyVaultUri, keyName: f.keyName, keyVersion: key.properties.version ?? '' },
        },
      });
  };
}
