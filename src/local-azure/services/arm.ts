/**
 * What every ARM request goes through: bearer token for management.azure.com, api-version,
 * the subscription's token buckets (with Azure's headers and 429), then the resource provider.
 * The providers import nothing from here; this file dispatches to them.
 */
import { randomUUID } from 'node:crypto';
import { armError, send, type Ctx, type Env } from '../http';
import { vaultResourceId } from '../model';
import type { ArmBucketKind, ArmLimits } from '../limits';
import { audienceIs, verifyToken, type TokenClaims } from '../tokens';
import { handleAuthorization } from './authorization';
import { handleKeyVault } from './arm-keyvault';
import { handleMsi } from './msi';
import { handleStorage } from './arm-storage';
import { handleResourceGroups } from './arm-resource-groups';

/** The ARM front-end region named in routing ids. */
const ARM_REGION = 'EASTUS';
const ARM_AUDIENCES = ['https://management.azure.com', 'https://management.core.windows.net'];
const CHALLENGE = {
  'www-authenticate':
    'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"',
};

/** Answers a request to management.azure.com. */
export async function handleArm(ctx: Ctx, env: Env, limits: ArmLimits | undefined): Promise<void> {
  ctx.operation = 'unknown';
  traceHeaders(ctx);
  const claims = authenticate(ctx, env);
  if (!claims) return;
  ctx.claims = claims;
  if (!ctx.query['api-version']) {
    return armError(
      ctx,
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }
  const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(ctx.path)?.[1];
  if (subscriptionId && !throttle(ctx, limits, subscriptionId, claims)) return;
  // A group's own path (create, delete) and its delete operations are answered before the group must exist.
  if (handleResourceGroups(ctx, env)) return;
  if (subscriptionId && !inScope(ctx, env, subscriptionId)) return;
  if (ctx.method === 'GET' && /^\/subscriptions\/[^/]+\/resources$/i.test(ctx.path))
    return listResources(ctx, env, subscriptionId ?? '');
  const provider = /\/providers\/(Microsoft\.[A-Za-z]+)\//i.exec(`${ctx.path}/`)?.[1]?.toLowerCase();
  // Role assignments and definitions live under any scope, so their provider segment is the last one.
  if (/\/providers\/Microsoft\.Authorization\/role(Assignments|Definitions)/i.test(ctx.path))
    return handleAuthorization(ctx, env);
  if (provider === 'microsoft.keyvault') return handleKeyVault(ctx, env);
  if (provider === 'microsoft.storage') return handleStorage(ctx, env);
  if (provider === 'microsoft.managedidentity') return handleMsi(ctx, env);
  return armError(
    ctx,
    400,
    'InvalidResourceType',
    `The resource type could not be found in the namespace '${provider ?? ''}' for api version '${ctx.query['api-version']}'.`,
  );
}

/**
 * ARM's tracing headers on every answer: the client's correlation id echoed (or a new one) and
 * a routing id `<REGION>:<yyyyMMddTHHmmssZ>:<guid>`, as ARM's responses carry them.
 */
function traceHeaders(ctx: Ctx): void {
  const given = ctx.req.headers['x-ms-correlation-request-id'];
  const correlation = typeof given === 'string' && given ? given : randomUUID();
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  ctx.res.setHeader('x-ms-correlation-request-id', correlation);
  ctx.res.setHeader('x-ms-routing-request-id', `${ARM_REGION}:${stamp}:${randomUUID()}`);
}

/** The caller's claims, or undefined after answering 401 as ARM does. */
function authenticate(ctx: Ctx, env: Env): TokenClaims | undefined {
  const auth = ctx.req.headers.authorization;
  if (!auth) {
    armError(
      ctx,
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing.",
      CHALLENGE,
    );
    return undefined;
  }
  const claims = verifyToken(auth, env.tokenKey);
  if (!claims) {
    armError(ctx, 401, 'InvalidAuthenticationToken', 'The access token is invalid.', CHALLENGE);
    return undefined;
  }
  if (!ARM_AUDIENCES.some((a) => audienceIs(claims, a))) {
    armError(
      ctx,
      401,
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource '${claims.aud}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.`,
      CHALLENGE,
    );
    return undefined;
  }
  return claims;
}

/** Takes a token from the subscription's bucket; false after answering 429. */
function throttle(
  ctx: Ctx,
  limits: ArmLimits | undefined,
  subscriptionId: string,
  claims: TokenClaims,
): boolean {
  if (!limits) return true;
  const kind: ArmBucketKind =
    ctx.method === 'GET' || ctx.method === 'HEAD' ? 'reads' : ctx.method === 'DELETE' ? 'deletes' : 'writes';
  const taken = limits.take(subscriptionId, kind);
  if (!taken.ok) {
    armError(
      ctx,
      429,
      'SubscriptionRequestsThrottled',
      `Number of '${kind.slice(0, -1)}' requests for subscription '${subscriptionId}' actor '${claims.oid}' exceeded. Please try again after '${taken.retryAfterSeconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`,
      {
        'retry-after': String(taken.retryAfterSeconds),
        [`x-ms-ratelimit-remaining-subscription-${kind}`]: '0',
      },
    );
    return false;
  }
  ctx.res.setHeader(`x-ms-ratelimit-remaining-subscription-${kind}`, String(taken.remaining));
  return true;
}

/** False after answering 404 for an unknown subscription or resource group. */
function inScope(ctx: Ctx, env: Env, subscriptionId: string): boolean {
  const sub = env.state.data.subscriptions[subscriptionId.toLowerCase()];
  if (!sub) {
    armError(ctx, 404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`);
    return false;
  }
  const rg = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)/i.exec(ctx.path)?.[1];
  if (rg && !sub.resourceGroups[rg.toLowerCase()]) {
    armError(ctx, 404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
    return false;
  }
  return true;
}

/** The generic resource list (`$filter=resourceType eq '…'`), which `vaults.list()` uses. */
function listResources(ctx: Ctx, env: Env, subscriptionId: string): void {
  ctx.operation = 'resources.list';
  const type = /resourceType\s+eq\s+'([^']+)'/i.exec(ctx.query.$filter ?? '')?.[1]?.toLowerCase();
  const vaults = Object.values(env.state.data.vaults).filter(
    (v) => v.subscriptionId.toLowerCase() === subscriptionId.toLowerCase(),
  );
  const value =
    !type || type === 'microsoft.keyvault/vaults'
      ? vaults.map((v) => ({
          id: vaultResourceId(v),
          name: v.name,
          type: 'Microsoft.KeyVault/vaults',
          location: v.location,
          tags: v.tags,
        }))
      : [];
  send(ctx, 200, { value });
}
