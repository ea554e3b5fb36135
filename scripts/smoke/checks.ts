/**
 * What a smoke run reads from Azure itself after each step, independently of the runbook's own
 * confirmation: the account's encryption settings, the key's versions, and the canary blob the
 * runbook's probe reads (Get Blob Properties, which Azure refuses once the key is unreachable).
 */
import type { AzureClients } from '../../src/activities';
import { CANARY } from '../../src/activities/probe';
import type { AccountRef } from '../../src/shared/accounts';

/** An account's encryption as ARM reports it. */
export interface AccountEncryption {
  keySource: string;
  keyName?: string;
  /** "" or absent: versionless. */
  keyVersion?: string;
  vaultUri?: string;
  /** The user-assigned identity encryption uses; absent means the system-assigned one. */
  userAssignedIdentity?: string;
  identityType?: string;
}

/** Reads the account's encryption settings. */
export async function readEncryption(azure: AzureClients, ref: AccountRef): Promise<AccountEncryption> {
  const account = await azure
    .storage(ref.subscriptionId)
    .storageAccounts.getProperties(ref.resourceGroup, ref.name);
  const enc = account.encryption;
  const props = enc?.keyVaultProperties;
  return {
    keySource: enc?.keySource ?? 'Microsoft.Storage',
    ...(props?.keyName ? { keyName: props.keyName } : {}),
    ...(props?.keyVersion !== undefined ? { keyVersion: props.keyVersion } : {}),
    ...(props?.keyVaultUri ? { vaultUri: props.keyVaultUri } : {}),
    ...(enc?.encryptionIdentity?.encryptionUserAssignedIdentity
      ? { userAssignedIdentity: enc.encryptionIdentity.encryptionUserAssignedIdentity }
      : {}),
    ...(account.identity?.type ? { identityType: account.identity.type } : {}),
  };
}

/** The key's versions, oldest first. */
export async function listKeyVersions(azure: AzureClients, vault: string, key: string): Promise<string[]> {
  const versions: { version: string; created: number }[] = [];
  for await (const p of azure.keys(`https://${vault}.vault.azure.net/`).listPropertiesOfKeyVersions(key))
    versions.push({ version: p.version ?? '', created: p.createdOn?.getTime() ?? 0 });
  return versions.sort((a, b) => a.created - b.created).map((v) => v.version);
}

/** What a read of the canary blob says: Storage can use the key, cannot, or the blob is not there. */
export type CanaryState = 'allowed' | 'denied' | 'missing';

/** Get Blob Properties of the runbook's canary blob. */
export async function readCanary(azure: AzureClients, ref: AccountRef): Promise<CanaryState> {
  const blob = azure
    .blob(`https://${ref.name}.blob.core.windows.net/`)
    .getContainerClient(CANARY.container)
    .getBlockBlobClient(CANARY.blob);
  try {
    await blob.getProperties();
    return 'allowed';
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; details?: { errorCode?: string } };
    const code = e.code ?? e.details?.errorCode ?? '';
    if (e.statusCode === 404) return 'missing';
    if (e.statusCode === 403 && /^KeyVault/.test(code)) return 'denied';
    throw error;
  }
}

/**
 * Waits until the caller can write blobs in the account (a new role assignment takes minutes on
 * Azure, a new account's host name may take a moment to resolve): writes the canary the runbook's
 * probe would write. Returns the seconds it took.
 */
export async function waitForBlobWrite(
  azure: AzureClients,
  ref: AccountRef,
  { withinMs, pollMs }: { withinMs: number; pollMs: number },
): Promise<number> {
  const started = Date.now();
  const service = azure.blob(`https://${ref.name}.blob.core.windows.net/`);
  let last: unknown;
  while (Date.now() - started < withinMs) {
    try {
      await service.getContainerClient(CANARY.container).createIfNotExists();
      const body = 'cmk-runbook canary: read to confirm this account can use its key';
      await service
        .getContainerClient(CANARY.container)
        .getBlockBlobClient(CANARY.blob)
        .upload(body, body.length);
      return (Date.now() - started) / 1000;
    } catch (error) {
      // 403 while the role propagates; no status while a new account's host name is not yet resolvable.
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 403 && status !== undefined) throw error;
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(
    `the blob data role did not reach ${ref.name} within ${Math.round(withinMs / 60_000)} minutes: ${(last as Error | undefined)?.message ?? ''}`,
  );
}
