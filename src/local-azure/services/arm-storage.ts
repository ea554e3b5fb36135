/**
 * Microsoft.Storage storage accounts: get, list (paged), update and create (`storage-create.ts`), with Storage's rules for
 * managed identities and customer-managed keys, each answered with Azure's own error code.
 */
import { randomUUID } from 'node:crypto';
import { armError, asRecord, jsonBody, resourceNotFound, route, send, type Ctx, type Env } from '../http';
import { storageAccountId, type StorageAccount } from '../model';
import { storageAccountView } from '../views';
import { handleEncryptionScopes } from './arm-encryption-scopes';
import { handleStorageCreate } from './storage-create';
import { updateEncryption } from './storage-encryption';
import { applyAccountSettings, validateAccountUpdate, type AccountUpdateBody } from './storage-properties';

const ACCOUNT =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/(?<name>[^/]+)$/i;
const LIST_RG =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.Storage\/storageAccounts$/i;
const LIST_SUB = /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.Storage\/storageAccounts$/i;
/** Accounts per page of a list; the rest follows through `nextLink`. */
export const STORAGE_PAGE_SIZE = 100;
const IDENTITY_TYPES = ['None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned'];

type Body = AccountUpdateBody;

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

function patchAccount(ctx: Ctx, env: Env, a: StorageAccount): void {
  const body = (asRecord(jsonBody(ctx)) ?? {}) as Body;
  if (!validateAccountUpdate(ctx, a, body)) return;
  const before = structuredClone(a);
  const ok =
    (!body.identity || updateIdentity(ctx, env, a, body.identity)) &&
    (!body.properties?.encryption || updateEncryption(ctx, env, a, body.properties.encryption));
  if (!ok) {
    Object.assign(a, before);
    return;
  }
  applyAccountSettings(a, body);
  env.state.changed();
  send(ctx, 200, storageAccountView(env.state.data, a));
}

/** Answers Microsoft.Storage requests. */
export function handleStorage(ctx: Ctx, env: Env): void {
  if (handleEncryptionScopes(ctx, env) || handleStorageCreate(ctx, env)) return;
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
