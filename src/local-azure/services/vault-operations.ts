/**
 * Key Vault's subscription-level ARM operations: name availability, soft-deleted vaults (get,
 * list, purge) and the long-running operation results clients poll.
 */
import { randomUUID } from 'node:crypto';
import { armError, asRecord, jsonBody, send, type Ctx, type Env, type Route } from '../http';
import type { DeletedVault } from '../model';
import { deletedVaultView } from '../views';

const CHECK_NAME = /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.KeyVault\/checkNameAvailability$/i;
const DELETED =
  /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.KeyVault\/locations\/(?<loc>[^/]+)\/deletedVaults\/(?<name>[^/]+)$/i;
const PURGE =
  /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.KeyVault\/locations\/(?<loc>[^/]+)\/deletedVaults\/(?<name>[^/]+)\/purge$/i;
const DELETED_LIST = /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.KeyVault\/deletedVaults$/i;
const OPERATION =
  /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.KeyVault\/locations\/(?<loc>[^/]+)\/operationResults\/(?<op>[^/]+)$/i;
/** Vault names: 3–24 letters, digits and single hyphens, starting with a letter, ending with a letter or digit. */
export const VAULT_NAME = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
/** Azure's message for an invalid vault name. */
export const NAME_MESSAGE = (n: string): string =>
  `The name '${n}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or a digit, and not contain consecutive hyphens. Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742`;
/** Azure's message for a vault name in use. */
export const IN_USE = (n: string): string =>
  `The vault name '${n}' is already in use. Vault names are globally unique so it is possible that the name is already taken. If you are sure that the vault name was not taken then it is possible that a vault with the same name was recently deleted but not purged after being placed in a recoverable state. If the vault is in a recoverable state then the vault will need to be purged before reusing the name. For more information on VaultAlreadyExists, soft delete and purging a vault follow this link https://go.microsoft.com/fwlink/?linkid=2147740.`;
const CREATE_SETTLE_MS = 2000;

/** Completes vault creations whose client has polled or whose settle time passed. */
export function settle(env: Env): void {
  const now = env.clock.nowMs();
  for (const op of Object.values(env.state.data.operations)) {
    if (op.kind !== 'vaultCreate' || op.status === 'Succeeded') continue;
    if (op.polls >= 2 || Date.parse(op.startTime) + CREATE_SETTLE_MS <= now) {
      op.status = 'Succeeded';
      const v = env.state.data.vaults[op.target];
      if (v) v.properties.provisioningState = 'Succeeded';
    }
  }
}

function checkName(ctx: Ctx, env: Env): void {
  const data = env.state.data;
  const body = asRecord(jsonBody(ctx)) ?? {};
  const name = typeof body.name === 'string' ? body.name : '';
  if (body.type !== 'Microsoft.KeyVault/vaults')
    return armError(ctx, 400, 'InvalidResourceType', "The type must be 'Microsoft.KeyVault/vaults'.");
  if (!VAULT_NAME.test(name))
    return send(ctx, 200, {
      nameAvailable: false,
      reason: 'AccountNameInvalid',
      message: NAME_MESSAGE(name),
    });
  if (data.vaults[name.toLowerCase()] || data.deletedVaults[name.toLowerCase()])
    return send(ctx, 200, { nameAvailable: false, reason: 'AlreadyExists', message: IN_USE(name) });
  return send(ctx, 200, { nameAvailable: true });
}

/** The soft-deleted vault a route names, or undefined after answering 404. */
function deletedFor(ctx: Ctx, env: Env, g: Record<string, string>): DeletedVault | undefined {
  const d = env.state.data.deletedVaults[(g.name ?? '').toLowerCase()];
  if (d && d.vault.subscriptionId === g.sub && d.vault.location.toLowerCase() === (g.loc ?? '').toLowerCase())
    return d;
  armError(
    ctx,
    404,
    'ResourceNotFound',
    `The deleted vault '${g.name}' could not be found in location '${g.loc}'.`,
  );
  return undefined;
}

function getDeleted(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const d = deletedFor(ctx, env, g);
  if (d) send(ctx, 200, deletedVaultView(d));
}

function purgeDeleted(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const d = deletedFor(ctx, env, g);
  if (!d) return;
  if (d.vault.properties.enablePurgeProtection)
    return armError(ctx, 409, 'InvalidOperation', "Operation 'DeletedVaultPurge' is not allowed.");
  const data = env.state.data;
  delete data.deletedVaults[d.vault.name.toLowerCase()];
  const op = randomUUID();
  data.operations[op] = {
    id: op,
    kind: 'vaultPurge',
    target: d.vault.name.toLowerCase(),
    polls: 0,
    status: 'InProgress',
    startTime: env.clock.now().toISOString(),
  };
  env.state.changed();
  return send(ctx, 202, undefined, {
    location: `https://management.azure.com/subscriptions/${g.sub}/providers/Microsoft.KeyVault/locations/${g.loc}/operationResults/${op}?api-version=${ctx.query['api-version']}`,
  });
}

function listDeleted(ctx: Ctx, env: Env, g: Record<string, string>): void {
  send(ctx, 200, {
    value: Object.values(env.state.data.deletedVaults)
      .filter((d) => d.vault.subscriptionId === g.sub)
      .map(deletedVaultView),
  });
}

function operationResult(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const op = env.state.data.operations[g.op ?? ''];
  if (!op) return armError(ctx, 404, 'OperationNotFound', `The operation '${g.op}' was not found.`);
  op.polls += 1;
  settle(env);
  if (op.kind === 'vaultPurge') {
    if (op.polls < 2)
      return send(ctx, 202, undefined, {
        location: `https://management.azure.com${ctx.path}?api-version=${ctx.query['api-version']}`,
      });
    return send(ctx, 200);
  }
  return send(ctx, 200, {
    id: ctx.path,
    name: op.id,
    status: op.status,
    startTime: op.startTime,
    ...(op.status === 'Succeeded' ? { endTime: env.clock.now().toISOString() } : {}),
  });
}

/** Name availability, deleted vaults and operation results, as routes. */
export const VAULT_OPERATION_ROUTES: readonly Route[] = [
  { method: 'POST', pattern: CHECK_NAME, operation: 'vaults.checkNameAvailability', handle: checkName },
  { method: 'GET', pattern: DELETED, operation: 'vaults.getDeleted', handle: getDeleted },
  { method: 'POST', pattern: PURGE, operation: 'vaults.purgeDeleted', handle: purgeDeleted },
  { method: 'GET', pattern: DELETED_LIST, operation: 'vaults.listDeleted', handle: listDeleted },
  { method: 'GET', pattern: OPERATION, operation: 'operationResults.get', handle: operationResult },
];

/** True for a path of the subscription-level operations (answered 405 for another method). */
export function isVaultOperation(ctx: Ctx): boolean {
  return [CHECK_NAME, DELETED, PURGE, DELETED_LIST, OPERATION].some((re) => re.test(ctx.path));
}
