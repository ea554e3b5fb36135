/**
 * The Blob endpoint of each account (`<account>.blob.core.windows.net`): a bearer token for
 * storage.azure.com, the account's firewall, the caller's Storage Blob Data role, then the
 * operation. After the account loses its key (revoked, disabled or deleted, once revocation has
 * propagated) the content and metadata operations Microsoft lists fail with 403 and the other
 * data operations proceed (customer-managed-keys-overview, "Revoke access").
 */
import { hasBlobDataAction } from '../access';
import { blobError, type Ctx, type Env } from '../http';
import type { StorageAccount } from '../model';
import { clientVerdict } from '../network';
import { audienceIs, verifyToken } from '../tokens';
import { BLOB_OPERATIONS, type BlobOperation } from './blob-data';

const KEY_MESSAGES: Record<string, string> = {
  KeyVaultEncryptionKeyNotFound: 'The key vault key is not found to unwrap the encryption key.',
  KeyVaultVaultNotFound: 'The key vault vault is not found for encryption.',
};
const NOT_AUTHORIZED = 'This request is not authorized to perform this operation.';

/** The operation a request names, from its method, path depth and `restype`/`comp`. */
function operationOf(ctx: Ctx): BlobOperation | undefined {
  const [container, ...rest] = ctx.path.split('/').filter(Boolean);
  const blob = rest.join('/');
  const { restype, comp } = ctx.query;
  const m = ctx.method;
  const pick = (name: string): BlobOperation | undefined => {
    const op = BLOB_OPERATIONS.find((o) => o.name === name);
    return op && { ...op, container, blob };
  };
  if (restype === 'account' && comp === 'properties' && (m === 'GET' || m === 'HEAD'))
    return pick('getAccountInformation');
  if (!container) return m === 'GET' && comp === 'list' ? pick('listContainers') : undefined;
  if (!blob) {
    if (restype !== 'container') return undefined;
    if (comp === 'list') return m === 'GET' ? pick('listBlobs') : undefined;
    if (comp) return undefined;
    return pick(
      (
        {
          PUT: 'createContainer',
          GET: 'getContainerProperties',
          HEAD: 'getContainerProperties',
          DELETE: 'deleteContainer',
        } as Record<string, string>
      )[m] ?? '',
    );
  }
  if (comp === 'metadata')
    return pick(m === 'PUT' ? 'setBlobMetadata' : m === 'GET' || m === 'HEAD' ? 'getBlobMetadata' : '');
  if (comp) return undefined;
  return pick(
    (
      { PUT: 'putBlob', GET: 'getBlob', HEAD: 'getBlobProperties', DELETE: 'deleteBlob' } as Record<
        string,
        string
      >
    )[m] ?? '',
  );
}

/** False after answering 401 for a missing or foreign token. */
function authenticated(ctx: Ctx, env: Env): boolean {
  const auth = ctx.req.headers.authorization;
  const claims = auth ? verifyToken(auth, env.tokenKey) : undefined;
  if (claims && audienceIs(claims, 'https://storage.azure.com')) {
    ctx.claims = claims;
    return true;
  }
  blobError(
    ctx,
    401,
    auth ? 'InvalidAuthenticationInfo' : 'NoAuthenticationInformation',
    'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
  );
  return false;
}

/** False after answering 403 when no role of the caller allows the operation's data action. */
function permitted(ctx: Ctx, env: Env, account: StorageAccount, op: BlobOperation): boolean {
  const ok = hasBlobDataAction(
    env.state.data,
    account,
    op.container,
    ctx.claims?.oid ?? '',
    op.dataAction,
    env.clock.nowMs(),
    env.state.timing.roleAssignmentPropagationMs,
    env.state.assignmentIndex(),
  );
  if (!ok)
    blobError(
      ctx,
      403,
      'AuthorizationPermissionMismatch',
      'This request is not authorized to perform this operation using this permission.',
    );
  return ok;
}

/** Answers a request to the blob endpoint of a storage account. */
export function handleBlob(ctx: Ctx, env: Env): void {
  const name = ctx.host.split('.')[0]?.toLowerCase() ?? '';
  const op = operationOf(ctx);
  ctx.operation = op ? `blob.${op.name}` : 'blob.unknown';
  const account = Object.values(env.state.data.storageAccounts).find((a) => a.name.toLowerCase() === name);
  if (!account) return blobError(ctx, 404, 'ResourceNotFound', 'The specified resource does not exist.');
  if (!authenticated(ctx, env)) return;
  if (clientVerdict(account.networkAcls, account.publicNetworkAccess, ctx.clientAddress) !== 'allowed')
    return blobError(ctx, 403, 'AuthorizationFailure', NOT_AUTHORIZED);
  if (!op)
    return blobError(
      ctx,
      400,
      'UnsupportedHttpVerb',
      `The local Azure does not serve ${ctx.method} ${ctx.path}${ctx.query.comp ? `?comp=${ctx.query.comp}` : ''} on the blob endpoint.`,
    );
  if (!permitted(ctx, env, account, op)) return;
  if (op.needsKey(ctx)) {
    const refusal = env.state.blobRefusal(account);
    if (refusal) return blobError(ctx, 403, refusal.code, KEY_MESSAGES[refusal.code] ?? refusal.code);
  }
  ctx.res.setHeader('x-ms-version', String(ctx.req.headers['x-ms-version'] ?? '2025-11-05'));
  op.handle(ctx, env, account);
}
