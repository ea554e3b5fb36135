/**
 * The Key Vault data plane, one origin per vault (`<vault>.vault.azure.net`): challenge auth,
 * api-version, per-vault limits and the caller's key permissions, then the key operations.
 */
import { hasKeyPermission, type KeyPermission } from '../access';
import { jsonBody, kvError, type Ctx, type Env } from '../http';
import { KeyVaultLimits, type KeyVaultTransaction } from '../limits';
import { vaultResourceId, type Vault } from '../model';
import { clientVerdict, networkRulesOf } from '../network';
import { audienceIs, verifyToken, type TokenClaims } from '../tokens';
import { keyOperation, type KeyOp } from './keyvault-keys';

/** Data-plane api-versions the emulator answers. */
export const KEY_VAULT_API_VERSIONS = ['7.0', '7.1', '7.2', '7.3', '7.4', '7.5', '7.6', '2025-07-01'];

const RBAC_ACTIONS: Record<KeyPermission, string> = {
  get: 'keys/read',
  list: 'keys/read',
  create: 'keys/create/action',
  update: 'keys/write',
  delete: 'keys/delete',
  recover: 'keys/recover/action',
  purge: 'deletedKeys/delete',
  rotate: 'keys/rotate/action',
  getrotationpolicy: 'keyrotationpolicies/read',
  setrotationpolicy: 'keyrotationpolicies/write',
  wrapkey: 'keys/wrap/action',
  unwrapkey: 'keys/unwrap/action',
};

/** Parses a data-plane path into a key operation (undefined when the route is unknown). */
function parse(method: string, path: string): KeyOp | undefined {
  const seg = path.replace(/\/+$/, '').split('/').slice(1);
  const [root, name, a, b] = seg;
  if (root === 'keys') {
    if (!name) return method === 'GET' ? { op: 'list', permission: 'list' } : undefined;
    if (a === 'create' && method === 'POST') return { op: 'create', permission: 'create', name };
    if (a === 'rotate' && method === 'POST') return { op: 'rotate', permission: 'rotate', name };
    if (a === 'versions' && method === 'GET') return { op: 'listVersions', permission: 'list', name };
    if (a === 'rotationpolicy') {
      if (method === 'GET') return { op: 'getRotationPolicy', permission: 'getrotationpolicy', name };
      if (method === 'PUT') return { op: 'setRotationPolicy', permission: 'setrotationpolicy', name };
      return undefined;
    }
    const crypto = b ?? (a === 'wrapkey' || a === 'unwrapkey' ? a : undefined);
    const version = b ? a : a === 'wrapkey' || a === 'unwrapkey' ? '' : a;
    if (crypto === 'wrapkey' && method === 'POST')
      return { op: 'wrapKey', permission: 'wrapkey', name, version: version ?? '' };
    if (crypto === 'unwrapkey' && method === 'POST')
      return { op: 'unwrapKey', permission: 'unwrapkey', name, version: version ?? '' };
    if (b) return undefined;
    if (method === 'GET') return { op: 'get', permission: 'get', name, version: a ?? '' };
    if (method === 'PATCH') return { op: 'update', permission: 'update', name, version: a ?? '' };
    if (method === 'DELETE' && !a) return { op: 'delete', permission: 'delete', name };
    return undefined;
  }
  if (root === 'deletedkeys') {
    if (!name) return method === 'GET' ? { op: 'listDeleted', permission: 'list' } : undefined;
    if (a === 'recover' && method === 'POST') return { op: 'recover', permission: 'recover', name };
    if (a) return undefined;
    if (method === 'GET') return { op: 'getDeleted', permission: 'get', name };
    if (method === 'DELETE') return { op: 'purge', permission: 'purge', name };
  }
  return undefined;
}

function forbidden(ctx: Ctx, vault: Vault, permission: KeyPermission, keyName: string | undefined): void {
  const c = ctx.claims;
  const caller = `appid=${c?.appid};oid=${c?.oid};iss=${c?.iss}`;
  if (!vault.properties.enableRbacAuthorization) {
    return kvError(
      ctx,
      403,
      'Forbidden',
      `The user, group or application '${caller}' does not have keys ${permission} permission on key vault '${vault.name};location=${vault.location}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`,
      'AccessDenied',
    );
  }
  const resource = `${vaultResourceId(vault)}${keyName ? `/keys/${keyName}` : ''}`.toLowerCase();
  kvError(
    ctx,
    403,
    'Forbidden',
    `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: ${caller}\r\nAction: 'Microsoft.KeyVault/vaults/${RBAC_ACTIONS[permission]}'\r\nResource: '${resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: ${vault.name};location=${vault.location}\r\n`,
    'ForbiddenByRbac',
  );
}

/**
 * The caller's claims, or undefined after answering Key Vault's 401. The challenge names the
 * vault's tenant, and a token issued by another tenant is refused with AKV10032.
 */
function authenticate(ctx: Ctx, env: Env, tenantId: string): TokenClaims | undefined {
  const challenge = {
    'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`,
  };
  const refuse = (message: string): undefined => {
    kvError(ctx, 401, 'Unauthorized', message, undefined, challenge);
    return undefined;
  };
  const auth = ctx.req.headers.authorization;
  if (!auth) return refuse('AKV10000: Request is missing a Bearer or PoP token.');
  const claims = verifyToken(auth, env.tokenKey);
  if (!claims)
    return refuse('AKV10011: Invalid token: the token was not issued by this tenant or has expired.');
  if (!audienceIs(claims, 'https://vault.azure.net'))
    return refuse(`AKV10022: Invalid audience. Expected https://vault.azure.net, found: ${claims.aud}.`);
  if (claims.tid.toLowerCase() !== tenantId.toLowerCase())
    return refuse(
      `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${tenantId}/, found ${claims.iss}.`,
    );
  return claims;
}

/**
 * The vault firewall for a caller that is not a trusted service: public network access and the
 * IP rules by source address (virtual-network rules never match a caller from outside Azure);
 * false after answering 403 as Key Vault does (key-vault/general/network-security).
 */
function throughFirewall(ctx: Ctx, vault: Vault): boolean {
  ctx.res.setHeader(
    'x-ms-keyvault-network-info',
    `conn_type=Ipv4;addr=${ctx.clientAddress};act_addr_fam=InterNetwork;`,
  );
  const verdict = clientVerdict(
    networkRulesOf(vault.properties.networkAcls),
    vault.properties.publicNetworkAccess,
    ctx.clientAddress,
  );
  if (verdict === 'allowed') return true;
  const c = ctx.claims;
  const caller = `appid=${c?.appid};oid=${c?.oid};iss=${c?.iss}`;
  const where = `Vault: ${vault.name};location=${vault.location}`;
  if (verdict === 'publicAccessDisabled')
    kvError(
      ctx,
      403,
      'Forbidden',
      `Public network access is disabled and request is not from a trusted service nor via an approved private link.\r\nCaller: ${caller}\r\n${where}`,
      'ForbiddenByConnection',
    );
  else
    kvError(
      ctx,
      403,
      'Forbidden',
      `Client address is not authorized and caller is not a trusted service.\r\nClient address: ${ctx.clientAddress}\r\nCaller: ${caller}\r\n${where}`,
      'ForbiddenByFirewall',
    );
  return false;
}

/** What a request costs: a create names its key type and size in the body, others their key's current version. */
function transactionOf(ctx: Ctx, vault: Vault, parsed: KeyOp): KeyVaultTransaction {
  const kind = parsed.op === 'create' || parsed.op === 'rotate' ? 'create' : 'other';
  if (parsed.op === 'create') {
    const body = jsonBody<{ kty?: string; key_size?: number }>(ctx) ?? {};
    return { kind, key: { hsm: body.kty === 'RSA-HSM', size: body.key_size ?? 2048 } };
  }
  const current = vault.keys[(parsed.name ?? '').toLowerCase()]?.versions.at(-1);
  return current ? { kind, key: { hsm: current.kty === 'RSA-HSM', size: current.keySize } } : { kind };
}

/** Counts the request against its vault's and its subscription's 10-second windows; false after answering 429. */
function throttle(ctx: Ctx, limits: KeyVaultLimits | undefined, vault: Vault, parsed: KeyOp): boolean {
  if (!limits) return true;
  const taken = limits.take(vault, transactionOf(ctx, vault, parsed));
  if (taken.ok) return true;
  // Clients act on the status and Retry-After only; the reason's wording for the subscription's
  // limit is not documented (the vault's is seen as "VaultRequestTypeLimitReached" too).
  const reason = taken.scope === 'vault' ? 'Vault Transaction Limit' : 'Subscription Transaction Limit';
  kvError(
    ctx,
    429,
    'Throttled',
    `Request was not processed because too many requests were received. Reason: ${reason}. Please retry after ${taken.retryAfterSeconds} seconds.`,
    undefined,
    { 'retry-after': String(taken.retryAfterSeconds) },
  );
  return false;
}

/** Creates the data-plane handler; without throttling no vault limits are counted. */
export function createKeyVaultHandler(throttling: boolean): (ctx: Ctx, env: Env) => Promise<void> {
  const limits = throttling ? new KeyVaultLimits() : undefined;
  return async (ctx, env) => {
    const parsed = parse(ctx.method, ctx.path);
    ctx.operation = parsed ? `keys.${parsed.op}` : 'unknown';
    const vaultName = ctx.host.split('.')[0]?.toLowerCase() ?? '';
    const vault = env.state.data.vaults[vaultName];
    const claims = authenticate(ctx, env, vault?.properties.tenantId ?? env.state.data.tenantId);
    if (!claims) return;
    ctx.claims = claims;
    const version = ctx.query['api-version'];
    if (!version || !KEY_VAULT_API_VERSIONS.includes(version)) {
      return kvError(
        ctx,
        400,
        'BadParameter',
        `The specified version (${version ?? ''}) is not recognized. Consider using the latest supported version (2025-07-01).`,
      );
    }
    if (!vault)
      return kvError(ctx, 404, 'VaultNotFound', `The vault '${vaultName}' does not exist or was deleted.`);
    if (!parsed) return kvError(ctx, 404, 'NotFound', `No route for ${ctx.method} ${ctx.path}.`);
    if (!throughFirewall(ctx, vault) || !throttle(ctx, limits, vault, parsed)) return;
    const allowed = hasKeyPermission(
      env.state.data,
      vault,
      claims.oid,
      parsed.permission,
      parsed.name,
      env.clock.nowMs(),
      env.state.timing.roleAssignmentPropagationMs,
      env.state.assignmentIndex(),
    );
    if (!allowed) return forbidden(ctx, vault, parsed.permission, parsed.name);
    await keyOperation(ctx, env, vault, parsed);
  };
}
