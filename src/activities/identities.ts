/**
 * `assignIdentity`: gives the account a system-assigned identity (its principal id exists only
 * after the update) or adds a user-assigned one, keeping identities it already has.
 */
import type { Identity } from '@azure/arm-storage';
import { validateAccountRef, validateUserAssignedIdentityId, type AccountRef } from '../shared/accounts';
import type { IdentityState } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { ValidationError } from '../shared/names';
import type { IdentityChoice } from '../shared/runbooks';
import { getAccount, principalOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { domainFailure } from './errors';
import { abortSignal, call } from './runtime';

/** Validates an identity choice; returns `SystemAssigned` or the user-assigned resource id. */
export function identityOf(choice: IdentityChoice | undefined, field = 'identity'): string {
  if (choice?.type === 'SystemAssigned') return 'SystemAssigned';
  if (choice?.type === 'UserAssigned')
    return validateUserAssignedIdentityId(choice.resourceId, `${field}.resourceId`);
  throw new ValidationError(
    `${field}.type`,
    'SystemAssigned or UserAssigned',
    (choice as { type?: unknown } | undefined)?.type,
  );
}

/** Ensures the account has the identity; `changed` is false when it already had it. */
export async function assignIdentity(
  deps: ActivityDeps,
  input: { account: AccountRef; identity: IdentityChoice },
): Promise<IdentityState> {
  const ref = validateAccountRef(input.account);
  const identity = identityOf(input.identity);
  const account = await getAccount(deps, ref);
  const userPrincipal =
    identity === 'SystemAssigned' ? undefined : await getUserAssignedIdentity(deps, identity);
  const hasUser = Object.keys(account.identity?.userAssignedIdentities ?? {}).some(
    (id) => id.toLowerCase() === identity.toLowerCase(),
  );
  const present =
    identity === 'SystemAssigned'
      ? principalOf(account, identity)
      : hasUser
        ? (principalOf(account, identity) ?? userPrincipal)
        : undefined;
  if (present) return { identity, principalId: present, changed: false };

  const current = account.identity;
  const hasSystem = /systemassigned/i.test(current?.type ?? '');
  const userIds = Object.keys(current?.userAssignedIdentities ?? {});
  const wantSystem = hasSystem || identity === 'SystemAssigned';
  const wantUsers = identity === 'SystemAssigned' ? userIds : [...userIds, identity];
  const desired: Identity = {
    type:
      wantSystem && wantUsers.length
        ? 'SystemAssigned,UserAssigned'
        : wantSystem
          ? 'SystemAssigned'
          : 'UserAssigned',
    ...(wantUsers.length
      ? { userAssignedIdentities: Object.fromEntries(wantUsers.map((id) => [id, {}])) }
      : {}),
  };
  const updated = await call({ what: `account ${ref.name}`, notFound: CMK_ERROR_TYPES.AccountNotFound }, () =>
    deps.azure
      .storage(ref.subscriptionId)
      .storageAccounts.update(
        ref.resourceGroup,
        ref.name,
        { identity: desired },
        { abortSignal: abortSignal() },
      ),
  );
  const principalId = principalOf(updated, identity) ?? userPrincipal;
  if (!principalId) {
    throw domainFailure(
      CMK_ERROR_TYPES.IdentityNotFound,
      `Azure did not report a principal id for ${identity} on ${ref.name}. Fix: check the identity and run again`,
      { identity },
    );
  }
  return { identity, principalId, changed: true };
}

/** A user-assigned identity's principal id; `IdentityNotFound` when it does not exist. */
export async function getUserAssignedIdentity(deps: ActivityDeps, resourceId: string): Promise<string> {
  const [, , subscriptionId, , resourceGroup, , , , name] = resourceId.split('/');
  const found = await call({ what: `identity ${name}`, notFound: CMK_ERROR_TYPES.IdentityNotFound }, () =>
    deps.azure
      .msi(subscriptionId!)
      .userAssignedIdentities.get(resourceGroup!, name!, { abortSignal: abortSignal() }),
  );
  if (!found.principalId)
    throw domainFailure(
      CMK_ERROR_TYPES.IdentityNotFound,
      `Identity ${name} has no principal id yet. Fix: wait a minute and run again`,
      { identity: resourceId },
    );
  return found.principalId;
}
