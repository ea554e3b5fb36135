/**
 * A client process configured only by environment (HTTPS_PROXY, NODE_EXTRA_CA_CERTS, AZURE_*):
 * it builds the SDK clients with no agent or endpoint override, as production does, and prints
 * what it saw as JSON.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { StorageManagementClient } from '@azure/arm-storage';
import { KeyClient } from '@azure/keyvault-keys';
import { BlobServiceClient } from '@azure/storage-blob';

async function main(): Promise<void> {
  const [subscriptionId] = (process.env.CMK_SUBSCRIPTION_IDS ?? '').split(',');
  const credential = new DefaultAzureCredential();
  const storage = new StorageManagementClient(credential, subscriptionId ?? '');
  const account = await storage.storageAccounts.getProperties('rg-storage', 'stcontoso');
  const keys = new KeyClient('https://kv-rbac.vault.azure.net', credential);
  const key = await keys.createRsaKey('from-env', { keySize: 2048 });
  const blob = await new BlobServiceClient(
    'https://stcontoso.blob.core.windows.net',
    credential,
  ).getAccountInfo();
  process.stdout.write(JSON.stringify({ account: account.name, kid: key.id, blobKind: blob.accountKind }));
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
