/**
 * Microsoft.Storage storage accounts: get, list (paged) and update, with Storage's rules for
 * managed identities and customer-managed keys, each answered with Azure's own error code.
 */
import { randomUUID } from 'node:crypto';
import { encryptionPrincipal, hasKeyPermission, vaultByUri } from '../access';
import { armError, jsonBody, route, send, type Ctx, type Env } from '../http';
import { storageAccountId, type StorageAccount } from '../model';
import { kidOf, storageAccountView } from '../views';
import { asRecord, resourceNotFound } from './arm';

const ACCOUNT =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/(?<name>[^/]+)$/i;
const LIST_RG =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.Storage\/storageAccounts$/i;
const LIST_SUB = /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.Storage\/storageAccounts$/i;
/** Accounts per page of a list; the rest follows through `nextLink`. */
export const STORAGE_PAGE_SIZE = 100;
const DAY_MS = 86_400_000;
const IDENTITY_TYPES = ['None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned'];
const AUTH_FAILURE =
  'The operation failed because of authentication issue on the keyvault. For more information, see - https://aka.ms/storagekeyvaultaccesspolicy';

type Body = {
  identity?: { type?: string; userAssignedIdentities?: Record<string, unknown> };
  properties?: {
    encryption?: {
      keySource?: string;
      requireInfrastructureEncryption?: boolean;
      services?: { queue?: { keyType?: string }; table?: { keyType?: string } };
      keyvaultproperties?: { keyname?: string; keyversion?: string; keyvaulturi?: string };
      identity?: { userAssignedIdentity?: string; federatedIdentityClientId?: string };
    };
  };
  tags?: Record<string, string>;
  sku?: { name?: string };
  location?: string;
};

function updateIdentity(
  ctx: Ctx,
  env: Env,
  a: StorageAccount,
  identity: NonNullable<Body['identity']>,
): boolean {
  const type = IDENTITY_TYPES.find(
    (t) => t.toLowerCase() === (identity.type ?? '').replace(/\s/g, '').toLowerCase(),
  );
  if (!type) {
    armError(
      ctx,
      400,
      'InvalidIdentityType',
      `The identity type '${identity.type}' is not valid. Valid values are ${IDENTITY_TYPES.join(', ')}.`,
    );
    return false;
  }
  const data = env.state.data;
  let uais = type.includes('UserAssigned') ? [...a.identity.userAssignedIdentities] : [];
  for (const [id, value] of Object.entries(identity.userAssignedIdentities ?? {})) {
    if (value === null) {
      uais = uais.filter((u) => u.toLowerCase() !== id.toLowerCase());
      continue;
    }
    if (!data.identities[id.toLowerCase()]) {
      armError(
        ctx,
        400,
        'FailedIdentityOperation',
        `Identity operation for resource '${storageAccountId(a)}' failed with error 'Failed to perform resource identity operation. Status: 'NotFound'. Response: '{"error":{"code":"NotFound","message":"Resource '${id}' was not found."}}'.'.`,
      );
      return false;
    }
    if (!uais.some((u) => u.toLowerCase() === id.toLowerCase()))
      uais.push(data.identities[id.toLowerCase()] ? id : id);
  }
  if (type.includes('UserAssigned') && uais.length === 0) {
    armError(
      ctx,
      400,
      'BadRequest',
      "The identity type 'UserAssigned' requires at least one user-assigned identity in 'userAssignedIdentities'.",
    );
    return false;
  }
  if (type.includes('SystemAssigned') && !a.identity.principalId) {
    const principalId = randomUUID();
    data.principals[principalId] = { objectId: principalId, kind: 'ManagedIdentity', displayName: a.name };
    a.identity.principalId = principalId;
  }
  if (!type.includes('SystemAssigned') && a.identity.principalId) {
    delete data.principals[a.identity.principalId];
    delete a.identity.principalId;
  }
  a.identity = { ...a.identity, type, userAssignedIdentities: uais };
  return true;
}

function updateEncryption(
  ctx: Ctx,
  env: Env,
  a: StorageAccount,
  enc: NonNullable<NonNullable<Body['properties']>['encryption']>,
): boolean {
  const creationOnly = (what: string): boolean => {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      `The property '${what}' can only be set when the storage account is created.`,
    );
    return false;
  };
  if (
    enc.requireInfrastructureEncryption !== undefined &&
    enc.requireInfrastructureEncryption !== a.requireInfrastructureEncryption
  )
    return creationOnly('requireInfrastructureEncryption');
  if (enc.services?.queue?.keyType && enc.services.queue.keyType !== a.queueKeyType)
    return creationOnly('encryption.services.queue.keyType');
  if (enc.services?.table?.keyType && enc.services.table.keyType !== a.tableKeyType)
    return creationOnly('encryption.services.table.keyType');
  const e = a.encryption;
  const kvp = enc.keyvaultproperties;
  const newUai = enc.identity?.userAssignedIdentity;
  const identityChanges =
    enc.identity !== undefined &&
    (newUai ?? '').toLowerCase() !== (e.userAssignedIdentity ?? '').toLowerCase();
  const keyChanges =
    kvp !== undefined &&
    (kvp.keyname !== e.keyName ||
      (kvp.keyversion ?? '') !== (e.keyVersion ?? '') ||
      (kvp.keyvaulturi ?? '').replace(/\/+$/, '').toLowerCase() !==
        (e.keyVaultUri ?? '').replace(/\/+$/, '').toLowerCase());
  if (e.keySource === 'Microsoft.Keyvault' && identityChanges && keyChanges) {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      'The encryption identity and the key vault properties cannot be changed in the same request. Update encryption.identity first, then encryption.keyvaultproperties.',
    );
    return false;
  }
  if (newUai && !a.identity.userAssignedIdentities.some((u) => u.toLowerCase() === newUai.toLowerCase())) {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      `The user-assigned identity '${newUai}' in encryption.identity is not assigned to the storage account.`,
    );
    return false;
  }
  const source = enc.keySource ?? e.keySource;
  if (source.toLowerCase() === 'microsoft.storage') {
    a.encryption = {
      keySource: 'Microsoft.Storage',
      ...(enc.identity
        ? newUai
          ? { userAssignedIdentity: newUai }
          : {}
        : e.userAssignedIdentity
          ? { userAssignedIdentity: e.userAssignedIdentity }
          : {}),
    };
    return true;
  }
  if (source.toLowerCase() !== 'microsoft.keyvault') {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      `The value '${source}' of keySource is not valid. Valid values are Microsoft.Storage and Microsoft.Keyvault.`,
    );
    return false;
  }
  const keyName = kvp?.keyname ?? e.keyName;
  const keyVaultUri = kvp?.keyvaulturi ?? e.keyVaultUri;
  const keyVersion = kvp ? (kvp.keyversion ?? '') : (e.keyVersion ?? '');
  if (!keyName || !keyVaultUri) {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      'keyvaultproperties.keyname and keyvaultproperties.keyvaulturi are required when keySource is Microsoft.Keyvault.',
    );
    return false;
  }
  const vault = vaultByUri(env.state.data, keyVaultUri);
  if (!vault) {
    armError(ctx, 400, 'KeyVaultVaultNotFound', `The key vault '${keyVaultUri}' was not found.`);
    return false;
  }
  if (!vault.properties.enableSoftDelete || !vault.properties.enablePurgeProtection) {
    armError(ctx, 400, 'KeyVaultPolicyError', 'Keyvault policy recoverable is not set');
    return false;
  }
  const uai = enc.identity ? newUai : e.userAssignedIdentity;
  const principal = encryptionPrincipal(env.state.data, {
    ...a,
    encryption: { ...e, ...(uai ? { userAssignedIdentity: uai } : { userAssignedIdentity: undefined }) },
  });
  if (!principal) {
    armError(
      ctx,
      400,
      'InvalidValuesForRequestParameters',
      'Missing pre-requisites to enable EncryptionAtRest/Customer Managed Key. Assign a managed identity to the storage account, and set encryption.identity when it is user-assigned.',
    );
    return false;
  }
  const key = vault.keys[keyName.toLowerCase()];
  const version =
    key &&
    (keyVersion ? key.versions.find((v) => v.version === keyVersion) : key.versions[key.versions.length - 1]);
  const now = env.clock.nowMs();
  const can = (p: 'get' | 'wrapkey' | 'unwrapkey'): boolean =>
    hasKeyPermission(
      env.state.data,
      vault,
      principal,
      p,
      keyName,
      now,
      env.state.timing.roleAssignmentPropagationMs,
    );
  if (!can('get') || !can('wrapkey') || !can('unwrapkey')) {
    armError(ctx, 400, 'KeyVaultAuthenticationFailure', AUTH_FAILURE);
    return false;
  }
  if (!key || !version) {
    armError(
      ctx,
      400,
      'KeyVaultEncryptionKeyNotFound',
      'The key vault key is not found to unwrap the encryption key.',
    );
    return false;
  }
  if (
    !version.enabled ||
    (version.exp !== undefined && version.exp * 1000 <= now) ||
    (version.nbf !== undefined && version.nbf * 1000 > now)
  ) {
    armError(ctx, 400, 'KeyVaultAuthenticationFailure', AUTH_FAILURE);
    return false;
  }
  if (!['RSA', 'RSA-HSM'].includes(version.kty) || ![2048, 3072, 4096].includes(version.keySize)) {
    armError(
      ctx,
      400,
      'KeyVaultKeyTypeNotSupported',
      'Only RSA and RSA-HSM keys of size 2048, 3072 or 4096 are supported for storage encryption.',
    );
    return false;
  }
  const kid = kidOf(vault, key.name, version.version);
  const versionless = keyVersion === '';
  a.encryption = {
    keySource: 'Microsoft.Keyvault',
    keyName: key.name,
    keyVersion,
    keyVaultUri: `https://${vault.name}.vault.azure.net/`,
    currentVersionedKeyIdentifier: kid,
    lastKeyRotationTimestamp:
      kid === e.currentVersionedKeyIdentifier ? e.lastKeyRotationTimestamp : new Date(now).toISOString(),
    ...(version.exp !== undefined
      ? { currentVersionedKeyExpirationTimestamp: new Date(version.exp * 1000).toISOString() }
      : {}),
    ...(uai ? { userAssignedIdentity: uai } : {}),
    ...(enc.identity?.federatedIdentityClientId
      ? { federatedIdentityClientId: enc.identity.federatedIdentityClientId }
      : {}),
    ...(versionless
      ? { nextCheckAtMs: e.keyVersion === '' && e.nextCheckAtMs ? e.nextCheckAtMs : now + DAY_MS }
      : {}),
  };
  return true;
}

function patchAccount(ctx: Ctx, env: Env, a: StorageAccount): void {
  const body = (asRecord(jsonBody(ctx)) ?? {}) as Body;
  if (body.location && body.location.toLowerCase() !== a.location.toLowerCase()) {
    return armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      'The location of a storage account cannot be changed.',
    );
  }
  const before = structuredClone(a);
  const ok =
    (!body.identity || updateIdentity(ctx, env, a, body.identity)) &&
    (!body.properties?.encryption || updateEncryption(ctx, env, a, body.properties.encryption));
  if (!ok) {
    Object.assign(a, before);
    return;
  }
  if (body.tags) a.tags = body.tags;
  if (body.sku?.name) a.sku = body.sku.name;
  env.state.changed();
  send(ctx, 200, storageAccountView(env.state.data, a));
}

/** Answers Microsoft.Storage requests. */
export function handleStorage(ctx: Ctx, env: Env): void {
  const data = env.state.data;
  const one = ACCOUNT.exec(ctx.path)?.groups;
  if (one) {
    const a = data.storageAccounts[ctx.path.toLowerCase()];
    ctx.operation =
      ctx.method === 'PATCH'
        ? 'storageAccounts.update'
        : ctx.method === 'GET'
          ? 'storageAccounts.getProperties'
          : `storageAccounts.${ctx.method.toLowerCase()}`;
    if (ctx.method !== 'GET' && ctx.method !== 'PATCH')
      return armError(
        ctx,
        405,
        'MethodNotAllowed',
        `${ctx.method} is not supported on storage accounts by the local Azure.`,
      );
    if (!a) return resourceNotFound(ctx, 'Microsoft.Storage/storageAccounts', one.name ?? '', one.rg ?? '');
    return ctx.method === 'GET' ? send(ctx, 200, storageAccountView(data, a)) : patchAccount(ctx, env, a);
  }
  const list = route(ctx, 'GET', LIST_RG) ?? route(ctx, 'GET', LIST_SUB);
  if (list) {
    ctx.operation = list.rg ? 'storageAccounts.listByResourceGroup' : 'storageAccounts.list';
    const all = Object.values(data.storageAccounts).filter(
      (a) =>
        a.subscriptionId.toLowerCase() === (list.sub ?? '').toLowerCase() &&
        (!list.rg || a.resourceGroup.toLowerCase() === list.rg.toLowerCase()),
    );
    const skip = Number(ctx.query.$skipToken ?? 0) || 0;
    const page = all.slice(skip, skip + STORAGE_PAGE_SIZE);
    const next =
      skip + STORAGE_PAGE_SIZE < all.length
        ? `https://management.azure.com${ctx.path}?api-version=${ctx.query['api-version']}&$skipToken=${skip + STORAGE_PAGE_SIZE}`
        : undefined;
    return send(ctx, 200, {
      value: page.map((a) => storageAccountView(data, a)),
      ...(next ? { nextLink: next } : {}),
    });
  }
  ctx.operation = 'unknown';
  return armError(ctx, 404, 'NotFound', `No route for ${ctx.method} ${ctx.path}.`);
}
