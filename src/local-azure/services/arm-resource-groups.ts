/**
 * Microsoft.Resources resource groups: create or update, get, check existence and delete, as
 * ARM answers them (learn.microsoft.com, rest/api/resources/resource-groups):
 * - Create Or Update: 201 for a new group, 200 for an existing one; `location` is required and
 *   cannot change (`InvalidResourceGroupLocation`); a group being deleted refuses with 409
 *   `ResourceGroupBeingDeleted`.
 * - Delete: 202 + `Location` (`/subscriptions/{id}/operationresults/{token}`); the Location answers
 *   202 "until all resources and the resource group are successfully deleted", then 200
 *   (resource-groups/delete; ARM async operations, "202 Accepted and Location headers"). The group
 *   reads `provisioningState: Deleting` meanwhile.
 * - Deleting a group deletes what it holds: storage accounts (their system-assigned identities
 *   with them), user-assigned identities, role assignments at scopes inside it, and vaults, which
 *   go into the soft-deleted state and keep their name until purged (key-vault soft-delete-overview).
 *   Role assignments elsewhere whose principal was deleted stay, as Azure leaves them
 *   ("Identity not found", role-assignments-list-portal).
 */
import { randomUUID } from 'node:crypto';
import { armError, asRecord, jsonBody, send, type Ctx, type Env } from '../http';
import type { ResourceGroup, Subscription } from '../model';

const GROUP = /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)$/i;
const OPERATION = /^\/subscriptions\/(?<sub>[^/]+)\/operationresults\/(?<op>[^/]+)$/i;
/** How long a delete runs when nobody polls it (a client polling sees one 202 first). */
const DELETE_SETTLE_MS = 2000;
/** Azure's resource group name rule (resource-name-rules, Microsoft.Resources). */
const NAME = /^[-\w._()\p{L}\p{N}]{1,90}$/u;

/** Answers resource group requests and their delete operations; false for any other path. */
export function handleResourceGroups(ctx: Ctx, env: Env): boolean {
  const group = GROUP.exec(ctx.path)?.groups;
  const operation = OPERATION.exec(ctx.path)?.groups;
  if (!group && !operation) return false;
  const sub = env.state.data.subscriptions[(group?.sub ?? operation?.sub ?? '').toLowerCase()];
  if (!sub) {
    ctx.operation = 'resourceGroups.unknownSubscription';
    armError(
      ctx,
      404,
      'SubscriptionNotFound',
      `The subscription '${group?.sub ?? operation?.sub}' could not be found.`,
    );
    return true;
  }
  settleDeletes(env);
  if (operation) {
    if (ctx.method !== 'GET') return false;
    pollDelete(ctx, env, operation.op ?? '');
    return true;
  }
  const name = group?.rg ?? '';
  const existing = sub.resourceGroups[name.toLowerCase()];
  switch (ctx.method) {
    case 'PUT':
      ctx.operation = 'resourceGroups.createOrUpdate';
      putGroup(ctx, env, sub, name, existing);
      return true;
    case 'GET':
      ctx.operation = 'resourceGroups.get';
      if (!existing) notFound(ctx, name);
      else send(ctx, 200, groupView(sub, existing));
      return true;
    case 'HEAD':
      ctx.operation = 'resourceGroups.checkExistence';
      send(ctx, existing ? 204 : 404);
      return true;
    case 'DELETE':
      ctx.operation = 'resourceGroups.delete';
      if (!existing) notFound(ctx, name);
      else startDelete(ctx, env, sub, existing);
      return true;
    default:
      return false;
  }
}

function putGroup(
  ctx: Ctx,
  env: Env,
  sub: Subscription,
  name: string,
  existing: ResourceGroup | undefined,
): void {
  const body = asRecord(jsonBody(ctx)) ?? {};
  const location = typeof body.location === 'string' ? body.location : '';
  const tags = asRecord(body.tags) as Record<string, string> | undefined;
  if (!NAME.test(name) || name.endsWith('.'))
    return armError(
      ctx,
      400,
      'InvalidResourceGroup',
      `The provided resource group name '${name}' has these invalid characters. The name can only be a letter, digit, '-', '.', '(', ')' or '_', and cannot end with '.'.`,
    );
  if (!location)
    return armError(ctx, 400, 'LocationRequired', 'The location property is required for this definition.');
  if (existing?.deleting)
    return armError(
      ctx,
      409,
      'ResourceGroupBeingDeleted',
      `The resource group '${existing.name}' is in deprovisioning state and cannot perform this operation.`,
    );
  if (existing && existing.location.toLowerCase() !== location.toLowerCase())
    return armError(
      ctx,
      400,
      'InvalidResourceGroupLocation',
      `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`,
    );
  if (existing) {
    if (tags) existing.tags = tags;
    env.state.changed();
    return send(ctx, 200, groupView(sub, existing));
  }
  const created: ResourceGroup = { name, location, ...(tags ? { tags } : {}) };
  sub.resourceGroups[name.toLowerCase()] = created;
  env.state.changed();
  send(ctx, 201, groupView(sub, created));
}

function startDelete(ctx: Ctx, env: Env, sub: Subscription, group: ResourceGroup): void {
  group.deleting = true;
  const op = randomUUID().replace(/-/g, '');
  env.state.data.operations[op] = {
    id: op,
    kind: 'resourceGroupDelete',
    target: `${sub.subscriptionId}/${group.name}`.toLowerCase(),
    polls: 0,
    status: 'InProgress',
    startTime: env.clock.now().toISOString(),
  };
  env.state.changed();
  send(ctx, 202, undefined, { location: operationUrl(ctx, sub, op) });
}

function pollDelete(ctx: Ctx, env: Env, id: string): void {
  ctx.operation = 'resourceGroups.deleteOperation';
  const op = env.state.data.operations[id];
  if (op?.kind !== 'resourceGroupDelete')
    return armError(ctx, 404, 'OperationNotFound', `The operation '${id}' was not found.`);
  op.polls += 1;
  if (op.status === 'InProgress' && op.polls >= 2) {
    completeDelete(env, op.target);
    op.status = 'Succeeded';
  }
  if (op.status === 'InProgress')
    return send(ctx, 202, undefined, {
      location: `https://management.azure.com${ctx.path}?api-version=${ctx.query['api-version']}`,
    });
  send(ctx, 200);
}

/** Completes deletes nobody polled once their settle time has passed. */
function settleDeletes(env: Env): void {
  const now = env.clock.nowMs();
  for (const op of Object.values(env.state.data.operations)) {
    if (op.kind !== 'resourceGroupDelete' || op.status !== 'InProgress') continue;
    if (Date.parse(op.startTime) + DELETE_SETTLE_MS > now) continue;
    completeDelete(env, op.target);
    op.status = 'Succeeded';
  }
}

/** Deletes the group `<subscription>/<group>` and everything in it (see the module comment). */
function completeDelete(env: Env, target: string): void {
  const data = env.state.data;
  const [subscriptionId = '', name = ''] = target.split('/');
  const sub = data.subscriptions[subscriptionId];
  if (!sub?.resourceGroups[name]) return;
  const prefix = `/subscriptions/${subscriptionId}/resourcegroups/${name}/`;
  const inside = (id: string): boolean => `${id.toLowerCase()}/`.startsWith(prefix);
  for (const [key, account] of Object.entries(data.storageAccounts)) {
    if (!inside(key)) continue;
    if (account.identity.principalId) delete data.principals[account.identity.principalId];
    delete data.storageAccounts[key];
  }
  for (const [key, identity] of Object.entries(data.identities)) {
    if (!inside(key)) continue;
    delete data.principals[identity.principalId];
    delete data.identities[key];
  }
  const now = env.clock.nowMs();
  for (const [key, vault] of Object.entries(data.vaults)) {
    if (vault.subscriptionId.toLowerCase() !== subscriptionId || vault.resourceGroup.toLowerCase() !== name)
      continue;
    delete data.vaults[key];
    data.deletedVaults[key] = {
      vault,
      deletionDate: new Date(now).toISOString(),
      scheduledPurgeDate: new Date(
        now + vault.properties.softDeleteRetentionInDays * 86_400_000,
      ).toISOString(),
    };
  }
  for (const [key, assignment] of Object.entries(data.roleAssignments))
    if (inside(assignment.scope)) env.state.deleteRoleAssignment(key);
  delete sub.resourceGroups[name];
  env.state.changed();
}

function operationUrl(ctx: Ctx, sub: Subscription, op: string): string {
  return `https://management.azure.com/subscriptions/${sub.subscriptionId}/operationresults/${op}?api-version=${ctx.query['api-version']}`;
}

function groupView(sub: Subscription, group: ResourceGroup): Record<string, unknown> {
  return {
    id: `/subscriptions/${sub.subscriptionId}/resourceGroups/${group.name}`,
    name: group.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: group.location,
    ...(group.tags ? { tags: group.tags } : {}),
    properties: { provisioningState: group.deleting ? 'Deleting' : 'Succeeded' },
  };
}

function notFound(ctx: Ctx, name: string): void {
  armError(ctx, 404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
}
