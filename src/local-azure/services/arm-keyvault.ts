/**
 * Microsoft.KeyVault on ARM: vaults (create as a long-running operation, get, update, delete into
 * soft-deleted state), access policies (merge semantics), name availability and deleted vaults.
 */
import { randomUUID } from 'node:crypto';
import { armError, jsonBody, route, send, type Ctx, type Env } from '../http';
import { type AccessPolicy, type Vault } from '../model';
import { vaultView } from '../views';
import { asRecord, resourceNotFound } from './arm';
import {
  answerVaultOperation,
  IN_USE,
  isVaultOperation,
  NAME_MESSAGE,
  settle,
  VAULT_NAME,
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

function putVault(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const { sub = '', rg = '', name = '' } = g;
  ctx.operation = 'vaults.createOrUpdate';
  const data = env.state.data;
  if (!VAULT_NAME.test(name)) return armError(ctx, 400, 'VaultNameNotValid', NAME_MESSAGE(name));
  const body = asRecord(jsonBody(ctx));
  const p = (asRecord(body?.properties) ?? {}) as Props;
  const lc = name.toLowerCase();
  const existing = data.vaults[lc];
  if (
    existing &&
    (existing.subscriptionId !== sub || existing.resourceGroup.toLowerCase() !== rg.toLowerCase())
  ) {
    return armError(ctx, 409, 'VaultAlreadyExists', IN_USE(name));
  }
  const deleted = data.deletedVaults[lc];
  if (p.createMode === 'recover') {
    if (!deleted)
      return armError(ctx, 404, 'ResourceNotFound', `A deleted vault named '${name}' could not be found.`);
    delete data.deletedVaults[lc];
    data.vaults[lc] = deleted.vault;
    env.state.changed();
    return send(ctx, 200, vaultView(deleted.vault));
  }
  if (deleted) {
    return armError(
      ctx,
      409,
      'ConflictError',
      `A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft delete.`,
    );
  }
  if (irreversible(ctx, existing?.properties, p)) return;
  const policies = p.accessPolicies === undefined ? undefined : validatePolicies(p.accessPolicies);
  if (typeof policies === 'string') return armError(ctx, 400, 'BadRequest', policies);
  if (existing) {
    applyProps(existing, p, policies ?? []);
    if (body?.tags) existing.tags = body.tags as Record<string, string>;
    env.state.changed();
    return send(ctx, 200, vaultView(existing));
  }
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
  const v = data.vaults[lc] as Vault;
  v.createdBy = ctx.claims?.oid;
  v.tags = (body?.tags as Record<string, string> | undefined) ?? {};
  v.properties.sku = { family: 'A', name: p.sku.name.toLowerCase() };
  applyProps(v, p, policies ?? []);
  v.properties.provisioningState = 'RegisteringDns';
  const op = randomUUID();
  data.operations[op] = {
    id: op,
    kind: 'vaultCreate',
    target: lc,
    polls: 0,
    status: 'InProgress',
    startTime: env.clock.now().toISOString(),
  };
  env.state.changed();
  const poll = `https://management.azure.com/subscriptions/${sub}/providers/Microsoft.KeyVault/locations/${location}/operationResults/${op}?api-version=${ctx.query['api-version']}`;
  send(ctx, 201, vaultView(v), { 'azure-asyncoperation': poll });
}

function patchVault(ctx: Ctx, env: Env, v: Vault): void {
  ctx.operation = 'vaults.update';
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

/** Answers Microsoft.KeyVault requests. */
export function handleKeyVault(ctx: Ctx, env: Env): void {
  const data = env.state.data;
  settle(env);
  let g: Record<string, string> | undefined;
  if ((g = route(ctx, 'PUT', VAULT))) return putVault(ctx, env, g);
  const vaultRoute = VAULT.exec(ctx.path)?.groups ?? POLICY.exec(ctx.path)?.groups;
  if (vaultRoute) {
    const v = data.vaults[(vaultRoute.name ?? '').toLowerCase()];
    const found =
      v &&
      v.subscriptionId === vaultRoute.sub &&
      v.resourceGroup.toLowerCase() === (vaultRoute.rg ?? '').toLowerCase()
        ? v
        : undefined;
    if (vaultRoute.kind) {
      ctx.operation = 'vaults.updateAccessPolicy';
      if (ctx.method !== 'PUT') return armError(ctx, 405, 'MethodNotAllowed', 'Use PUT.');
      if (!found)
        return resourceNotFound(ctx, 'Microsoft.KeyVault/vaults', vaultRoute.name ?? '', vaultRoute.rg ?? '');
      const policies = validatePolicies(asRecord(asRecord(jsonBody(ctx))?.properties)?.accessPolicies);
      if (typeof policies === 'string') return armError(ctx, 400, 'BadRequest', policies);
      mergePolicies(found, vaultRoute.kind.toLowerCase(), policies);
      env.state.changed();
      return send(ctx, 200, {
        id: `${String(vaultView(found).id)}/accessPolicies/`,
        type: 'Microsoft.KeyVault/vaults/accessPolicies',
        properties: { accessPolicies: policies },
      });
    }
    ctx.operation = `vaults.${ctx.method === 'GET' ? 'get' : ctx.method === 'PATCH' ? 'update' : 'delete'}`;
    if (ctx.method === 'DELETE') {
      if (!found) return send(ctx, 204);
      delete data.vaults[found.name.toLowerCase()];
      const now = env.clock.nowMs();
      data.deletedVaults[found.name.toLowerCase()] = {
        vault: found,
        deletionDate: new Date(now).toISOString(),
        scheduledPurgeDate: new Date(
          now + found.properties.softDeleteRetentionInDays * 86_400_000,
        ).toISOString(),
      };
      env.state.changed();
      return send(ctx, 200);
    }
    if (!found)
      return resourceNotFound(ctx, 'Microsoft.KeyVault/vaults', vaultRoute.name ?? '', vaultRoute.rg ?? '');
    if (ctx.method === 'GET') return send(ctx, 200, vaultView(found));
    if (ctx.method === 'PATCH') return patchVault(ctx, env, found);
  }
  if (isVaultOperation(ctx)) return answerVaultOperation(ctx, env);
  if ((g = route(ctx, 'GET', LIST_RG) ?? route(ctx, 'GET', LIST_SUB))) {
    ctx.operation = 'vaults.list';
    const rg = g.rg?.toLowerCase();
    return send(ctx, 200, {
      value: Object.values(data.vaults)
        .filter((v) => v.subscriptionId === g?.sub && (!rg || v.resourceGroup.toLowerCase() === rg))
        .map(vaultView),
    });
  }
  return armError(ctx, 404, 'NotFound', `No route for ${ctx.method} ${ctx.path}.`);
}
