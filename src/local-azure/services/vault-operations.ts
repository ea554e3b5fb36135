/**
 * Key Vault's subscription-level ARM operations: name availability, soft-deleted vaults (get,
 * list, purge) and the long-running operation results clients poll.
 */
import { randomUUID } from 'node:crypto';
import { armError, jsonBody, route, send, type Ctx, type Env } from '../http';
import type { DeletedVault } from '../model';
import { deletedVaultView } from '../views';
import { asRecord } from './arm';

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

/** True for the subscription-level operations this file answers. */
export function isVaultOperation(ctx: Ctx): boolean {
  return [CHECK_NAME, DELETED, PURGE, DELETED_LIST, OPERATION].some((re) => re.test(ctx.path));
}

/** Answers name availability, deleted vaults and operation results. */
export function answerVaultOperation(ctx: Ctx, env: Env): void {
  const data = env.state.data;
  let g: Record<string, string> | undefined;
  if ((g = route(ctx, 'POST', CHECK_NAME))) {
    ctx.operation = 'vaults.checkNameAvailability';
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
  const deletedFor = (grp: Record<string, string>): DeletedVault | undefined => {
    const d = data.deletedVaults[(grp.name ?? '').toLowerCase()];
    return d &&
      d.vault.subscriptionId === grp.sub &&
      d.vault.location.toLowerCase() === (grp.loc ?? '').toLowerCase()
      ? d
      : undefined;
  };
  if ((g = route(ctx, 'GET', DELETED))) {
    ctx.operation = 'vaults.getDeleted';
    const d = deletedFor(g);
    return d
      ? send(ctx, 200, deletedVaultView(d))
      : armError(
          ctx,
          404,
          'ResourceNotFound',
          `The deleted vault '${g.name}' could not be found in location '${g.loc}'.`,
        );
  }
  if ((g = route(ctx, 'POST', PURGE))) {
    ctx.operation = 'vaults.purgeDeleted';
    const d = deletedFor(g);
    if (!d)
      return armError(
        ctx,
        404,
        'ResourceNotFound',
        `The deleted vault '${g.name}' could not be found in location '${g.loc}'.`,
      );
    if (d.vault.properties.enablePurgeProtection)
      return armError(ctx, 409, 'InvalidOperation', "Operation 'DeletedVaultPurge' is not allowed.");
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
  if ((g = route(ctx, 'GET', DELETED_LIST))) {
    ctx.operation = 'vaults.listDeleted';
    return send(ctx, 200, {
      value: Object.values(data.deletedVaults)
        .filter((d) => d.vault.subscriptionId === g?.sub)
        .map(deletedVaultView),
    });
  }
  if ((g = route(ctx, 'GET', OPERATION))) {
    ctx.operation = 'operationResults.get';
    const op = data.operations[g.op ?? ''];
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
  return armError(ctx, 405, 'MethodNotAllowed', `${ctx.method} is not supported on ${ctx.path}.`);
}
