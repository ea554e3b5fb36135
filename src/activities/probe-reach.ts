/**
 * Whether the data-plane probe can run on an account, asked before any change: the worker's
 * identity lists the canary container (List Blobs needs the same `…/containers/blobs/read` data
 * action as the probe's Get Blob Properties, and listings keep answering after a key is
 * revoked: customer-managed-keys-overview). Azure answers a missing data role with 403
 * `AuthorizationPermissionMismatch` and a storage firewall that refuses the caller with 403
 * `AuthorizationFailure` (Blob service error codes; storage-network-security). Never writes.
 */
import type { StorageAccount } from '@azure/arm-storage';
import { accountId, type AccountRef } from '../shared/accounts';
import type { Blocker } from '../shared/plan';
import type { ActivityDeps } from './deps';
import { classifyError } from './errors';
import { abortSignal } from './runtime';
import { CANARY } from './probe';

/** Why the probe could not run: the refusal as a plan blocker. */
export type ProbeReachProblem = Blocker;

/** Undefined when the worker can read blobs on the account; otherwise what stops it, with the fix. */
export async function checkProbeReach(
  deps: ActivityDeps,
  ref: AccountRef,
  account: StorageAccount,
): Promise<ProbeReachProblem | undefined> {
  const endpoint = account.primaryEndpoints?.blob ?? `https://${ref.name}.blob.core.windows.net/`;
  const container = deps.azure.blob(endpoint).getContainerClient(CANARY.container);
  try {
    await container
      .listBlobsFlat({ prefix: CANARY.blob, abortSignal: abortSignal() })
      .byPage({ maxPageSize: 1 })
      .next();
    return undefined;
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; details?: { errorCode?: string } };
    const code = e.code ?? e.details?.errorCode;
    // The container is not there yet (the first probe writes it): the caller was authorised.
    if (e.statusCode === 404) return undefined;
    if (e.statusCode === 403 && code === 'AuthorizationPermissionMismatch') {
      const principal = await deps.runbookPrincipalId().catch(() => '<runbook principal id>');
      return {
        code: 'BlobReadNotAllowed',
        message: `The runbook's identity (${principal}) may not read blobs on ${ref.name} (403 AuthorizationPermissionMismatch), so it cannot read the canary blob that confirms what Azure Storage does with the key.`,
        fix: `Give it Storage Blob Data Contributor on the account (it writes the canary once; Storage Blob Data Reader is enough once the canary exists): \`az role assignment create --assignee ${principal} --role "Storage Blob Data Contributor" --scope ${accountId(ref)}\`.`,
      };
    }
    if (e.statusCode === 403 && code === 'AuthorizationFailure') {
      return {
        code: 'StorageFirewall',
        message: `${ref.name}'s firewall does not let the runbook reach its blob endpoint (403 AuthorizationFailure), so it cannot read the canary blob that confirms what Azure Storage does with the key.`,
        fix: `Add the worker's public IP or virtual network to the account's firewall (\`az storage account network-rule add --account-name ${ref.name} --ip-address <worker ip>\`), or reach it through a private endpoint.`,
      };
    }
    // No answer at all: the request never reached the endpoint (the pipeline's RestError without
    // a status: DNS, refused or reset connections). A credential that could not get a token
    // (AuthenticationError: Entra answered 503, say) is no verdict on the endpoint: it is thrown
    // below, and Temporal retries the activity.
    if (e.statusCode === undefined && (error as Error).name === 'RestError') {
      return {
        code: 'BlobEndpointUnreachable',
        message: `The runbook cannot reach ${endpoint} (${code ?? (error as Error).message}), so it cannot read the canary blob that confirms what Azure Storage does with the key.`,
        fix: `Let the worker reach ${new URL(endpoint).host} on port 443 (DNS, proxy, private endpoint).`,
      };
    }
    throw classifyError(error, { what: 'blob data plane' });
  }
}
