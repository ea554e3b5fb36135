/**
 * `revokeAccess` (destructive): removes the account identity's access-policy entry or role
 * assignments on the key, and optionally disables the key version the account uses.
 */
import { parseKeyId, validateAccountRef, type AccountRef } from '../shared/accounts';
import type { RevokeResult } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { ValidationError } from '../shared/names';
import { removeKeyAccess } from './access';
import { encryptionOf, getAccount, getVaultByUri, principalOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { domainFailure } from './errors';
import { getUserAssignedIdentity } from './identities';
import { abortSignal, call } from './runtime';

/** See the module comment; running it twice leaves the same state as once. */
export async function revokeAccess(
  deps: ActivityDeps,
  input: { account: AccountRef; disableKey: boolean },
): Promise<RevokeResult> {
  const ref = validateAccountRef(input.account);
  if (typeof input.disableKey !== 'boolean')
    throw new ValidationError('disableKey', 'true or false', input.disableKey);
  const account = await getAccount(deps, ref);
  const enc = encryptionOf(account);
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName) {
    throw domainFailure(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${ref.name} does not use a customer-managed key; there is no key access to revoke`,
      { account: ref.name },
    );
  }
  const identity = enc.identity ?? 'SystemAssigned';
  const principalId =
    principalOf(account, identity) ??
    (identity === 'SystemAssigned' ? undefined : await getUserAssignedIdentity(deps, identity));
  if (!principalId) {
    throw domainFailure(
      CMK_ERROR_TYPES.IdentityNotFound,
      `Account ${ref.name} has no principal for ${identity}; nothing holds key access through it`,
      { identity },
    );
  }
  const { ref: vaultRef, vault } = await getVaultByUri(deps, enc.vaultUri, ref.subscriptionId);
  const removed = await removeKeyAccess(
    deps,
    { ...vaultRef, rbac: vault.properties?.enableRbacAuthorization === true },
    principalId,
    enc.keyName,
  );

  let keyDisabled = false;
  if (input.disableKey) {
    const version =
      enc.keyVersion ||
      (enc.currentVersionedKeyId ? parseKeyId(enc.currentVersionedKeyId).version : undefined);
    const keys = deps.azure.keys(enc.vaultUri);
    const keyName = enc.keyName;
    await call(
      { what: `key ${vaultRef.name}/${keyName}`, notFound: CMK_ERROR_TYPES.KeyNotFound },
      async () => {
        const target =
          version ?? (await keys.getKey(keyName, { abortSignal: abortSignal() })).properties.version;
        await keys.updateKeyProperties(keyName, target ?? '', { enabled: false, abortSignal: abortSignal() });
      },
    );
    keyDisabled = true;
  }
  return { removed, keyDisabled };
}
