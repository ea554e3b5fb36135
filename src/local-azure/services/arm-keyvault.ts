/**
 * Microsoft.KeyVault on ARM: vaults (create as a long-running operation, get, update, delete into
 * soft-deleted state), access policies (merge semantics), name availability and deleted vaults.
 */
import { randomUUID } from 'node:crypto';
import {
  armError,
  asRecord,
  dispatch,
  jsonBody,
  resourceNotFound,
  send,
  type Ctx,
  type Env,
  type Route,
} from '../http';
import { type AccessPolicy, type Vault } from '../model';
import { vaultView } from '../views';

import {
  IN_USE,
  isVaultOperation,
  NAME_MESSAGE,
  settle,
  VAULT_NAME,
  VAULT_OPERATION_ROUTES,
} from './vault-operations';

const VAULT =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/(?<name>[^/]+)$/i;
const POLICY =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/(?<name>[^/]+)\/accessPolicies\/(?<kind>add|replace|remove)$/i;
const LIST_RG =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.KeyVault\/vaults$/i;
const LIST_SUB = /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.KeyVault\/vaults$/i;

type Props = Partial<Vault['properties']> & { createMode?: string; vaultUri?: string };

function validatePolicies(list: unknown): AccessPolicy[] | string {
  if (!Array.isArray(list)) return 'properties.accessPolicies must be an array.';
  for (const p of list as unknown[]) {
    const r = asRecord(p);
    if (!r || typeof r.objectId !== 'string' || typeof r.tenantId !== 'string' || !asRecord(r.permissions)) {
      return 'Each access policy needs tenantId, objectId and permissions.';
    }
  }
  return list as AccessPolicy[];
}

function irreversible(ctx: Ctx, current: Vault['properties'] | undefined, p: Props): boolean {
  if (p.enablePurgeProtection === false && (current?.enablePurgeProtection || current === undefined)) {
    armError(
      ctx,
      400,
      'BadRequest',
      'The property "enablePurgeProtection" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.',
    );
    return true;
  }
  if (p.enableSoftDelete === false) {
    armError(
      ctx,
      400,
      'BadRequest',
      'The property "enableSoftDelete" cannot be set to false. Enabling the \'soft delete\' functionality is an irreversible action.',
    );
    return true;
  }
  if (
    p.softDeleteRetentionInDays !== undefined &&
    (p.softDeleteRetentionInDays < 7 || p.softDeleteRetentionInDays > 90)
  ) {
    armError(ctx, 400, 'BadRequest', 'The property "softDeleteRetentionInDays" must be between 7 and 90.');
    return true;
  }
  if (
    current &&
    p.softDeleteRetentionInDays !== undefined &&
    p.softDeleteRetentionInDays !== current.softDeleteRetentionInDays
  ) {
    armError(
      ctx,
      400,
      'BadRequest',
      'The property "softDeleteRetentionInDays" cannot be changed after the vault is created.',
    );
    return true;
  }
  return false;
}

function applyProps(v: Vault, p: Props, policies: AccessPolicy[] | undefined): void {
  const t = v.properties;
  if (p.sku?.name) t.sku = { family: 'A', name: p.sku.name };
  if (p.tenantId) t.tenantId = p.tenantId;
  if (policies) t.accessPolicies = policies;
  for (const k of [
    'enabledForDeployment',
    'enabledForDiskEncryption',
    'enabledForTemplateDeployment',
    'enableRbacAuthorization',
    'softDeleteRetentionInDays',
    'publicNetworkAccess',
    'networkAcls',
  ] as const) {
    if (p[k] !== undefined && p[k] !== null) (t as Record<string, unknown>)[k] = p[k];
  }
  if (p.enablePurgeProtection === true) t.enablePurgeProtection = true;
}

/** Recovers a soft-deleted vault (`createMode: recover`), or refuses a create over its name. */
function recoverOrRefuse(ctx: Ctx, env: Env, name: string, p: Props): boolean {
  const data = env.state.data;
  const lc = name.toLowerCase();
  const deleted = data.deletedVaults[lc];
  if (p.createMode === 'recover') {
    if (!deleted) {
      armError(ctx, 404, 'ResourceNotFound', `A deleted vault named '${name}' could not be found.`);
      return true;
    }
    delete data.deletedVaults[lc];
    data.vaults[lc] = deleted.vault;
    env.state.changed();
    send(ctx, 200, vaultView(deleted.vault));
    return true;
  }
  if (deleted) {
    armError(
      ctx,
      409,
      'ConflictError',
      `A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft delete.`,
    );
    return true;
  }
  return false;
}

function putVault(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const { sub = '', rg = '', name = '' } = g;
  const data = env.state.data;
  if (!VAULT_NAME.test(name)) return armError(ctx, 400, 'VaultNameNotValid', NAME_MESSAGE(name));
  const body = asRecord(jsonBody(ctx));
  const p = (asRecord(body?.properties) ?? {}) as Props;
  const existing = data.vaults[name.toLowerCase()];
  if (
    existing &&
    (existing.subscriptionId !== sub || existing.resourceGroup.toLowerCase() !== rg.toLowerCase())
  ) {
    return armError(ctx, 409, 'VaultAlreadyExists', IN_USE(name));
  }
  if (recoverOrRefuse(ctx, env, name, p) || irreversible(ctx, existing?.properties, p)) return;
  const policies = p.accessPolicies === undefined ? undefined : validatePolicies(p.accessPolicies);
  if (typeof policies === 'string') return armError(ctx, 400, 'BadRequest', policies);
  if (existing) {
    applyProps(existing, p, policies ?? []);
    if (body?.tags) existing.tags = body.tags as Record<string, string>;
    env.state.changed();
    return send(ctx, 200, vaultView(existing));
  }
  createVault(ctx, env, g, body, p, policies ?? []);
}

function createVault(
  ctx: Ctx,
  env: Env,
  g: Record<string, string>,
  body: Record<string, unknown> | undefined,
  p: Props,
  policies: AccessPolicy[],
): void {
  const { sub = '', rg = '', name = '' } = g;
  const data = env.state.data;
  if (!p.tenantId || !p.sku?.name)
    return armError(
      ctx,
      400,
      'BadRequest',
      'The properties "tenantId" and "sku" are required to create a vault.',
    );
  if (!['standard', 'premium'].includes(p.sku.name.toLowerCase()))
    return armError(ctx, 400, 'BadRequest', `The sku '${p.sku.name}' is not valid; use standard or premium.`);
  const location = typeof body?.location === 'string' ? body.location : '';
  if (!location)
    return armError(ctx, 400, 'LocationRequired', 'The location property is required for this definition.');
  const rbacDefault = (ctx.query['api-version'] ?? '') >= '2026-02-01';
  env.state.addVault({
    subscriptionId: sub,
    resourceGroup: data.subscriptions[sub.toLowerCase()]?.resourceGroups[rg.toLowerCase()]?.name ?? rg,
    name,
    location,
    enableRbacAuthorization: rbacDefault,
  });
  const v = data.vaults[name.toLowerCase()] as Vault;
  v.createdBy = ctx.claims?.oid;
  v.tags = (body?.tags as Record<string, string> | undefined) ?? {};
  v.properties.sku = { family: 'A', name: p.sku.name.toLowerCase() };
  applyProps(v, p, policies);
  v.properties.provisioningState = 'RegisteringDns';
  const op = randomUUID();
  data.operations[op] = {
    id: op,
    kind: 'vaultCreate',
    target: name.toLowerCase(),
    polls: 0,
    status: 'InProgress',
    startTime: env.clock.now().toISOString(),
  };
  env.state.changed();
  const poll = `https://management.azure.com/subscriptions/${sub}/providers/Microsoft.KeyVault/locations/${location}/operationResults/${op}?api-version=${ctx.query['api-version']}`;
  send(ctx, 201, vaultView(v), { 'azure-asyncoperation': poll });
}

function patchVault(ctx: Ctx, env: Env, v: Vault): void {
  const body = asRecord(jsonBody(ctx)) ?? {};
  const p = (asRecord(body.properties) ?? {}) as Props;
  if (irreversible(ctx, v.properties, p)) return;
  const policies = p.accessPolicies === undefined ? undefined : validatePolicies(p.accessPolicies);
  if (typeof policies === 'string') return armError(ctx, 400, 'BadRequest', policies);
  applyProps(v, p, policies);
  if (body.tags) v.tags = body.tags as Record<string, string>;
  env.state.changed();
  send(ctx, 200, vaultView(v));
}

function mergePolicies(v: Vault, kind: string, incoming: AccessPolicy[]): void {
  const list = v.properties.accessPolicies;
  for (const p of incoming) {
    const same = (e: AccessPolicy): boolean =>
      e.objectId.toLowerCase() === p.objectId.toLowerCase() &&
      (e.applicationId ?? '') === (p.applicationId ?? '');
    const entry = list.find(same);
    if (kind === 'replace' || (kind === 'add' && !entry)) {
      if (entry) entry.permissions = structuredClone(p.permissions);
      else list.push(structuredClone({ ...p, permissions: p.permissions }));
      continue;
    }
    if (!entry) continue;
    for (const k of ['keys', 'secrets', 'certificates', 'storage'] as const) {
      const have = entry.permissions[k] ?? [];
      const given = (p.permissions[k] ?? []).map((x) => x.toLowerCase());
      entry.permissions[k] =
        kind === 'add'
          ? [
              ...have,
              ...(p.permissions[k] ?? []).filter(
                (x) => !have.some((h) => h.toLowerCase() === x.toLowerCase()),
              ),
            ]
          : have.filter((x) => !given.includes(x.toLowerCase()));
    }
    if (kind === 'remove' && Object.values(entry.permissions).every((x) => !x?.length))
      list.splice(list.indexOf(entry), 1);
  }
}

/** The vault a route names, or undefined after answering 404. */
function vaultFor(ctx: Ctx, env: Env, g: Record<string, string>): Vault | undefined {
  const v = env.state.data.vaults[(g.name ?? '').toLowerCase()];
  if (v && v.subscriptionId === g.sub && v.resourceGroup.toLowerCase() === (g.rg ?? '').toLowerCase())
    return v;
  resourceNotFound(ctx, 'Microsoft.KeyVault/vaults', g.name ?? '', g.rg ?? '');
  return undefined;
}

function updateAccessPolicy(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const found = vaultFor(ctx, env, g);
  if (!found) return;
  const policies = validatePolicies(asRecord(asRecord(jsonBody(ctx))?.properties)?.accessPolicies);
  if (typeof policies === 'string') return armError(ctx, 400, 'BadRequest', policies);
  mergePolicies(found, (g.kind ?? '').toLowerCase(), policies);
  env.state.changed();
  return send(ctx, 200, {
    id: `${String(vaultView(found).id)}/accessPolicies/`,
    type: 'Microsoft.KeyVault/vaults/accessPolicies',
    properties: { accessPolicies: policies },
  });
}

function deleteVault(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const data = env.state.data;
  const v = data.vaults[(g.name ?? '').toLowerCase()];
  if (!v || v.subscriptionId !== g.sub || v.resourceGroup.toLowerCase() !== (g.rg ?? '').toLowerCase())
    return send(ctx, 204);
  delete data.vaults[v.name.toLowerCase()];
  const now = env.clock.nowMs();
  data.deletedVaults[v.name.toLowerCase()] = {
    vault: v,
    deletionDate: new Date(now).toISOString(),
    scheduledPurgeDate: new Date(now + v.properties.softDeleteRetentionInDays * 86_400_000).toISOString(),
  };
  env.state.changed();
  return send(ctx, 200);
}

function listVaults(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const rg = g.rg?.toLowerCase();
  send(ctx, 200, {
    value: Object.values(env.state.data.vaults)
      .filter((v) => v.subscriptionId === g.sub && (!rg || v.resourceGroup.toLowerCase() === rg))
      .map(vaultView),
  });
}

const ROUTES: readonly Route[] = [
  { method: 'PUT', pattern: VAULT, operation: 'vaults.createOrUpdate', handle: putVault },
  {
    method: 'GET',
    pattern: VAULT,
    operation: 'vaults.get',
    handle: (ctx, env, g) => {
      const v = vaultFor(ctx, env, g);
      if (v) send(ctx, 200, vaultView(v));
    },
  },
  {
    method: 'PATCH',
    pattern: VAULT,
    operation: 'vaults.update',
    handle: (ctx, env, g) => {
      const v = vaultFor(ctx, env, g);
      if (v) patchVault(ctx, env, v);
    },
  },
  { method: 'DELETE', pattern: VAULT, operation: 'vaults.delete', handle: deleteVault },
  { method: 'PUT', pattern: POLICY, operation: 'vaults.updateAccessPolicy', handle: updateAccessPolicy },
  { method: 'GET', pattern: LIST_RG, operation: 'vaults.list', handle: listVaults },
  { method: 'GET', pattern: LIST_SUB, operation: 'vaults.list', handle: listVaults },
  ...VAULT_OPERATION_ROUTES,
];

/** Answers Microsoft.KeyVault requests. */
export async function handleKeyVault(ctx: Ctx, env: Env): Promise<void> {
  settle(env);
  if (await dispatch(ctx, env, ROUTES)) return;
  if (POLICY.test(ctx.path)) {
    ctx.operation = 'vaults.updateAccessPolicy';
    return armError(ctx, 405, 'MethodNotAllowed', 'Use PUT.');
  }
  if (isVaultOperation(ctx))
    return armError(ctx, 405, 'MethodNotAllowed', `${ctx.method} is not supported on ${ctx.path}.`);
  return armError(ctx, 404, 'NotFound', `No route for ${ctx.method} ${ctx.path}.`);
}
