/**
 * Azure SDK clients built exactly as production builds them, plus the emulator's agent (the only
 * in-process difference); short polling and retry intervals keep the tests fast.
 */
import { ClientSecretCredential } from '@azure/identity';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { StorageManagementClient } from '@azure/arm-storage';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { KeyClient, CryptographyClient } from '@azure/keyvault-keys';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LocalAzure } from '../../src/local-azure';

/** The seeded demo tenant's subscription and resource groups. */
export const SUB = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';
export const RG_KEYS = 'rg-keys';
export const RG_STORAGE = 'rg-storage';

/** Fast retries: the SDK still honours Retry-After, only its own backoff is shortened. */
export const retryOptions = { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 };

/** Every client a runbook uses, pointed at the local Azure through its agent. */
export function clientsFor(local: LocalAzure) {
  const { tenantId, clientId, clientSecret } = local.credentials;
  const agent = local.agent;
  const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, { agent });
  return {
    credential,
    keyVault: new KeyVaultManagementClient(credential, SUB, { agent, retryOptions }),
    storage: new StorageManagementClient(credential, SUB, { agent, retryOptions }),
    authorization: new AuthorizationManagementClient(credential, SUB, { agent, retryOptions }),
    msi: new ManagedServiceIdentityClient(credential, SUB, { agent, retryOptions }),
    keys: (vault: string) =>
      new KeyClient(`https://${vault}.vault.azure.net`, credential, { agent, retryOptions }),
    crypto: (kid: string) => new CryptographyClient(kid, credential, { agent, retryOptions }),
    blob: (account: string) =>
      new BlobServiceClient(`https://${account}.blob.core.windows.net`, credential, {
        httpClient: local.blobHttpClient,
        retryOptions: { maxTries: 2, retryDelayInMs: 20 },
      }),
  };
}
