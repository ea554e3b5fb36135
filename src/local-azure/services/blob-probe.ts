/**
 * A minimal Blob endpoint per account (`<account>.blob.core.windows.net`): List Containers and
 * Get Account Information answer 200 while the account can reach its key, and 403
 * `KeyVaultEncryptionKeyNotFound` once that ends (after the revocation propagation delay).
 */
import { blobError, send, type Ctx, type Env } from '../http';
import { clientVerdict } from '../network';
import { audienceIs, verifyToken } from '../tokens';

const MESSAGES: Record<string, string> = {
  KeyVaultEncryptionKeyNotFound: 'The key vault key is not found to unwrap the encryption key.',
  KeyVaultVaultNotFound: 'The key vault vault is not found for encryption.',
};

/** Answers a request to the blob endpoint of a storage account. */
export function handleBlob(ctx: Ctx, env: Env): void {
  const name = ctx.host.split('.')[0]?.toLowerCase() ?? '';
  const comp = ctx.query.comp;
  ctx.operation =
    comp === 'list'
      ? 'blob.listContainers'
      : comp === 'properties' && ctx.query.restype === 'account'
        ? 'blob.getAccountInfo'
        : 'blob.unknown';
  const account = Object.values(env.state.data.storageAccounts).find((a) => a.name.toLowerCase() === name);
  if (!account) return blobError(ctx, 404, 'ResourceNotFound', 'The specified resource does not exist.');
  const auth = ctx.req.headers.authorization;
  if (!auth)
    return blobError(
      ctx,
      401,
      'NoAuthenticationInformation',
      'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
    );
  const claims = verifyToken(auth, env.tokenKey);
  if (!claims || !audienceIs(claims, 'https://storage.azure.com')) {
    return blobError(
      ctx,
      401,
      'InvalidAuthenticationInfo',
      'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
    );
  }
  ctx.claims = claims;
  if (clientVerdict(account.networkAcls, account.publicNetworkAccess, ctx.clientAddress) !== 'allowed')
    return blobError(
      ctx,
      403,
      'AuthorizationFailure',
      'This request is not authorized to perform this operation.',
    );
  if (ctx.method !== 'GET' || ctx.operation === 'blob.unknown') {
    return blobError(
      ctx,
      400,
      'UnsupportedQueryParameter',
      'The local Azure serves only List Containers and Get Account Information on the blob endpoint.',
    );
  }
  const refusal = env.state.blobRefusal(account);
  if (refusal) return blobError(ctx, 403, refusal.code, MESSAGES[refusal.code] ?? refusal.code);
  const headers = { 'x-ms-version': String(ctx.req.headers['x-ms-version'] ?? '2025-11-05') };
  if (ctx.operation === 'blob.getAccountInfo') {
    return send(ctx, 200, undefined, {
      ...headers,
      'x-ms-sku-name': account.sku,
      'x-ms-account-kind': account.kind,
      'x-ms-is-hns-enabled': 'false',
    });
  }
  const xml = `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://${account.name}.blob.core.windows.net/"><Containers /><NextMarker /></EnumerationResults>`;
  send(ctx, 200, xml, headers);
}
