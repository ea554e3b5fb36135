/**
 * Storage Accounts - Create, as Microsoft.Storage answers it (learn.microsoft.com,
 * rest/api/storagerp/storage-accounts/create; the SDK's recorded responses): a new account is
 * 202 Accepted with a `Location` to poll (`…/providers/Microsoft.Storage/locations/{location}/
 * asyncoperations/{id}?monitor=true`), which answers 202 while the account is created and then
 * 200 with the account; a create of an account that exists with the same settings is 200.
 * Rules: the name is 3–24 lower-case letters and digits (`AccountNameInvalid`) and global
 * (`StorageAccountAlreadyTaken`); location is required. Settings the update path does not model,
 * an identity, or a customer-managed key at creation are refused with `PropertyNotEmulated`.
 */
import { randomUUID } from 'node:crypto';
import { armError, asRecord, jsonBody, send, type Ctx, type Env } from '../http';
import type { StorageAccount } from '../model';
import { storageAccountView } from '../views';
import { applyAccountSettings, validateAccountUpdate, type AccountUpdateBody } from './storage-properties';

const ACCOUNT =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/(?<name>[^/]+)$/i;
const OPERATION =
  /^\/subscriptions\/(?<sub>[^/]+)\/providers\/Microsoft\.Storage\/locations\/(?<loc>[^/]+)\/asyncoperations\/(?<op>[^/]+)$/i;
const NAME = /^[a-z0-9]{3,24}$/;

/** Answers a storage account create (PUT) or a poll of its operation; false for any other request. */
export function handleStorageCreate(ctx: Ctx, env: Env): boolean {
  const put = ctx.method === 'PUT' ? ACCOUNT.exec(ctx.path)?.groups : undefined;
  if (put) {
    ctx.operation = 'storageAccounts.create';
    createAccount(ctx, env, put);
    return true;
  }
  const poll = ctx.method === 'GET' ? OPERATION.exec(ctx.path)?.groups : undefined;
  if (!poll) return false;
  ctx.operation = 'storageAccounts.createOperation';
  const op = env.state.data.operations[poll.op ?? ''];
  const account = op && env.state.data.storageAccounts[op.target];
  if (op?.kind !== 'storageCreate' || !account) {
    armError(ctx, 404, 'OperationNotFound', `The operation '${poll.op}' was not found.`);
    return true;
  }
  op.polls += 1;
  if (op.polls >= 2) op.status = 'Succeeded';
  if (op.status === 'InProgress') send(ctx, 202, undefined, { location: selfUrl(ctx) });
  else send(ctx, 200, storageAccountView(env.state.data, account));
  return true;
}

function createAccount(ctx: Ctx, env: Env, g: Record<string, string>): void {
  const data = env.state.data;
  const name = g.name ?? '';
  const body = (asRecord(jsonBody(ctx)) ?? {}) as AccountUpdateBody;
  if (!NAME.test(name))
    return armError(
      ctx,
      400,
      'AccountNameInvalid',
      `${name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.`,
    );
  if (!body.location)
    return armError(ctx, 400, 'LocationRequired', 'The location property is required for this definition.');
  const id = ctx.path.toLowerCase();
  const existing = data.storageAccounts[id];
  const taken = Object.values(data.storageAccounts).some((a) => a.name.toLowerCase() === name);
  if (taken && !existing)
    return armError(
      ctx,
      409,
      'StorageAccountAlreadyTaken',
      `The storage account named ${name} is already taken.`,
    );
  const unmodelled = unmodelledAtCreation(body);
  if (unmodelled)
    return armError(
      ctx,
      400,
      'PropertyNotEmulated',
      `The local Azure does not emulate ${unmodelled} when a storage account is created. Nothing was created.`,
    );
  const draft = {
    location: body.location,
    kind: body.kind ?? 'StorageV2',
    sku: body.sku?.name ?? 'Standard_LRS',
  };
  if (existing) {
    if (!validateAccountUpdate(ctx, existing, body)) return;
    applyAccountSettings(existing, body);
    env.state.changed();
    return send(ctx, 200, storageAccountView(data, existing));
  }
  if (!validateAccountUpdate(ctx, draft as StorageAccount, { ...body, sku: {} })) return;
  const encryption = body.properties?.encryption;
  env.state.addStorageAccount({
    subscriptionId: g.sub ?? '',
    resourceGroup:
      data.subscriptions[(g.sub ?? '').toLowerCase()]?.resourceGroups[(g.rg ?? '').toLowerCase()]?.name ??
      g.rg ??
      '',
    name,
    ...draft,
    ...(body.tags ? { tags: body.tags } : {}),
    requireInfrastructureEncryption: encryption?.requireInfrastructureEncryption === true,
    queueKeyType: encryption?.services?.queue?.keyType === 'Account' ? 'Account' : 'Service',
    tableKeyType: encryption?.services?.table?.keyType === 'Account' ? 'Account' : 'Service',
  });
  const account = data.storageAccounts[id];
  if (account) applyAccountSettings(account, { ...body, tags: account.tags, sku: {} });
  const op = randomUUID();
  data.operations[op] = {
    id: op,
    kind: 'storageCreate',
    target: id,
    polls: 0,
    status: 'InProgress',
    startTime: env.clock.now().toISOString(),
  };
  env.state.changed();
  const location = `https://management.azure.com/subscriptions/${g.sub}/providers/Microsoft.Storage/locations/${body.location}/asyncoperations/${op}?monitor=true&api-version=${ctx.query['api-version']}`;
  send(ctx, 202, undefined, { location });
}

/** What a create asks for that the local Azure would not carry out as Azure does. */
function unmodelledAtCreation(body: AccountUpdateBody): string | undefined {
  const identity = body.identity?.type?.replace(/\s/g, '').toLowerCase();
  if (identity && identity !== 'none') return 'a managed identity';
  const keySource = body.properties?.encryption?.keySource;
  if (keySource && keySource.toLowerCase() !== 'microsoft.storage') return 'a customer-managed key';
  return undefined;
}

function selfUrl(ctx: Ctx): string {
  const query = new URLSearchParams(ctx.query).toString();
  return `https://management.azure.com${ctx.path}?${query}`;
}
