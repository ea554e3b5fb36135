/**
 * `probeDataAccess`: asks the blob data plane whether the account can still reach its key,
 * until the expected answer comes or time is up, and says how long that took. It reads the
 * properties of a canary blob (writing it when missing): after a key is revoked, disabled or
 * deleted Azure fails blob content and metadata operations, while account information and
 * listings keep answering (customer-managed-keys-overview).
 */
import type { BlobServiceClient } from '@azure/storage-blob';
import { validateAccountRef, type AccountRef } from '../shared/accounts';
import type { ProbeResult } from '../shared/activities';
import { ValidationError } from '../shared/names';
import { getAccount } from './azure-state';
import type { ActivityDeps } from './deps';
import { classifyError } from './errors';
import { abortSignal, heartbeat, sleep } from './runtime';

/** Error codes the blob service answers with once the account cannot unwrap its key. */
const KEY_UNREACHABLE = /^KeyVault/;

/** See the module comment; returns the last state seen when the time is up. */
export async function probeDataAccess(
  deps: ActivityDeps,
  input: { account: AccountRef; expect: 'allowed' | 'denied'; withinMs: number; blobEndpoint?: string },
): Promise<ProbeResult> {
  const ref = validateAccountRef(input.account);
  if (input.expect !== 'allowed' && input.expect !== 'denied')
    throw new ValidationError('expect', 'allowed or denied', input.expect);
  if (!Number.isFinite(input.withinMs) || input.withinMs < 0)
    throw new ValidationError('withinMs', 'a non-negative number of milliseconds', input.withinMs);
  const endpoint =
    input.blobEndpoint !== undefined
      ? validateBlobEndpoint(input.blobEndpoint, ref)
      : ((await getAccount(deps, ref)).primaryEndpoints?.blob ??
        `https://${ref.name}.blob.core.windows.net/`);
  const client = deps.azure.blob(endpoint);
  const started = Date.now();
  for (let attempts = 1; ; attempts++) {
    const seen = await probeOnce(() => readCanary(client));
    const tookMs = Date.now() - started;
    const left = input.withinMs - tookMs;
    if (seen.state === input.expect || left <= 0) return { ...seen, tookMs, attempts };
    heartbeat({ step: 'probe', account: ref.name, expect: input.expect, seen: seen.state, attempts });
    await sleep(Math.min(deps.timing.probePollMs, left));
  }
}

/** Where the canary lives in every account the runbook probes. */
export const CANARY = { container: 'cmk-runbook', blob: 'canary' } as const;

/** Get Blob Properties of the canary; a missing one is written first (Put Blob also needs the key). */
async function readCanary(client: BlobServiceClient): Promise<unknown> {
  const blob = client.getContainerClient(CANARY.container).getBlockBlobClient(CANARY.blob);
  try {
    return await blob.getProperties({ abortSignal: abortSignal() });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  await client.getContainerClient(CANARY.container).createIfNotExists({ abortSignal: abortSignal() });
  const body = 'cmk-runbook canary: read to confirm this account can use its key';
  return blob.upload(body, body.length, { abortSignal: abortSignal() });
}

/** The plan's blob endpoint, accepted only as an https URL of this account's own host. */
function validateBlobEndpoint(endpoint: unknown, ref: AccountRef): string {
  let url: URL | undefined;
  try {
    url = typeof endpoint === 'string' ? new URL(endpoint) : undefined;
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:' || !url.hostname.toLowerCase().startsWith(`${ref.name.toLowerCase()}.`)) {
    throw new ValidationError('blobEndpoint', `the https blob endpoint of account ${ref.name}`, endpoint);
  }
  return endpoint as string;
}

async function probeOnce(send: () => Promise<unknown>): Promise<Pick<ProbeResult, 'state' | 'errorCode'>> {
  try {
    await send();
    return { state: 'allowed' };
  } catch (error) {
    // A HEAD answer has no body, so the SDK keeps its x-ms-error-code in details only.
    const e = error as { statusCode?: number; code?: string; details?: { errorCode?: string } };
    const code = e.code ?? e.details?.errorCode;
    if (e.statusCode === 403 && code && KEY_UNREACHABLE.test(code))
      return { state: 'denied', errorCode: code };
    throw classifyError(error, { what: 'blob data plane' });
  }
}
