/**
 * Microsoft.Storage encryption scopes of an account (api 2025-08-01, as arm-storage 20 sends it):
 * put (create or replace), patch, get and list. A scope on a Key Vault key uses the account's
 * encryption identity, and Storage checks that identity can use the key when the scope is set,
 * as for the account's own key (learn.microsoft.com storage/blobs/encryption-scope-manage).
 */
import { encryptionPrincipal } from '../access';
import { armError, asRecord, jsonBody, resourceNotFound, send, type Ctx, type Env } from '../http';
import { storageAccountId, type EncryptionScope, type StorageAccount } from '../model';
import { kidOf } from '../views';
import { recoverableVault, usableKey } from './storage-encryption';

const SCOPES =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/(?<name>[^/]+)\/encryptionScopes(?:\/(?<scope>[^/]+))?$/i;

/** Scope names: 3–63 lowercase letters, digits and hyphens, starting with a letter or digit (Storage RP). */
const SCOPE_NAME = /^[a-z0-9][a-z0-9-]{2,62}$/;

interface ScopeBody {
  properties?: {
    source?: string;
    state?: string;
    keyVaultProperties?: { keyUri?: string };
    requireInfrastructureEncryption?: boolean;
  };
}

/** True when the path is an encryption-scope route; the request is then answered. */
export function handleEncryptionScopes(ctx: Ctx, env: Env): boolean {
  const m = SCOPES.exec(ctx.path)?.groups;
  if (!m) return false;
  const data = env.state.data;
  const accountPath = ctx.path.replace(/\/encryptionScopes(\/[^/]+)?$/i, '').toLowerCase();
  const account = data.storageAccounts[accountPath];
  const scopeName = m.scope;
  ctx.operation = scopeName
    ? `encryptionScopes.${ctx.method === 'PUT' ? 'put' : ctx.method === 'PATCH' ? 'patch' : 'get'}`
    : 'encryptionScopes.list';
  if (!account) {
    resourceNotFound(ctx, 'Microsoft.Storage/storageAccounts', m.name ?? '', m.rg ?? '');
    return true;
  }
  if (!scopeName) {
    if (ctx.method !== 'GET') methodNotAllowed(ctx);
    else
      send(ctx, 200, { value: Object.values(account.encryptionScopes ?? {}).map((s) => view(account, s)) });
    return true;
  }
  const existing = account.encryptionScopes?.[scopeName.toLowerCase()];
  if (ctx.method === 'GET') {
    if (!existing)
      resourceNotFound(ctx, 'Microsoft.Storage/storageAccounts/encryptionScopes', scopeName, m.rg ?? '');
    else send(ctx, 200, view(account, existing));
    return true;
  }
  if (ctx.method !== 'PUT' && ctx.method !== 'PATCH') {
    methodNotAllowed(ctx);
    return true;
  }
  if (ctx.method === 'PATCH' && !existing) {
    resourceNotFound(ctx, 'Microsoft.Storage/storageAccounts/encryptionScopes', scopeName, m.rg ?? '');
    return true;
  }
  if (!SCOPE_NAME.test(scopeName)) {
    armError(
      ctx,
      400,
      'InvalidEncryptionScopeName',
      `The encryption scope name '${scopeName}' is invalid: use 3 to 63 lowercase letters, digits and hyphens.`,
    );
    return true;
  }
  const scope = applyBody(ctx, env, account, scopeName.toLowerCase(), existing);
  if (!scope) return true;
  account.encryptionScopes = { ...account.encryptionScopes, [scope.name]: scope };
  env.state.changed();
  send(ctx, existing ? 200 : 201, view(account, scope));
  return true;
}

/** The scope a PUT or PATCH makes, or undefined after answering Storage's error. */
function applyBody(
  ctx: Ctx,
  env: Env,
  account: StorageAccount,
  name: string,
  existing: EncryptionScope | undefined,
): EncryptionScope | undefined {
  const body = ((asRecord(jsonBody(ctx)) ?? {}) as ScopeBody).properties ?? {};
  const now = env.clock.now().toISOString();
  const base = settingsOf(ctx, body, name, existing, now);
  if (!base || base.source === 'Microsoft.Storage') return base;
  const keyUri = body.keyVaultProperties?.keyUri ?? existing?.keyUri;
  const parsed = keyUri ? parseKeyUri(keyUri) : undefined;
  if (!keyUri || !parsed) {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      'keyVaultProperties.keyUri is required when source is Microsoft.KeyVault, like https://<vault>.vault.azure.net/keys/<name>.',
    );
    return undefined;
  }
  // The account's encryption identity must be able to use the key, as for the account's own key.
  const vault = recoverableVault(ctx, env, keyUri);
  if (!vault) return undefined;
  const principal = encryptionPrincipal(env.state.data, account);
  const found = usableKey(ctx, env, { vault, principal, keyName: parsed.name }, (key) =>
    parsed.version ? key.versions.find((v) => v.version === parsed.version) : key.versions.at(-1),
  );
  if (!found) return undefined;
  const kid = kidOf(vault, found.key.name, found.version.version);
  return {
    ...base,
    keyUri,
    currentVersionedKeyIdentifier: kid,
    lastKeyRotationTimestamp:
      existing?.currentVersionedKeyIdentifier === kid ? existing.lastKeyRotationTimestamp : now,
  };
}

/**
 * The scope's source, state and infrastructure encryption (set at creation only), before any
 * key; undefined after answering Storage's error.
 */
function settingsOf(
  ctx: Ctx,
  body: NonNullable<ScopeBody['properties']>,
  name: string,
  existing: EncryptionScope | undefined,
  now: string,
): EncryptionScope | undefined {
  const source = (body.source ?? existing?.source ?? 'Microsoft.Storage').toLowerCase();
  if (source !== 'microsoft.storage' && source !== 'microsoft.keyvault') {
    armError(ctx, 400, 'InvalidRequestPropertyValue', `The value '${body.source}' of source is not valid.`);
    return undefined;
  }
  const infrastructure = body.requireInfrastructureEncryption;
  if (
    existing &&
    infrastructure !== undefined &&
    infrastructure !== existing.requireInfrastructureEncryption
  ) {
    armError(
      ctx,
      400,
      'AccountPropertyCannotBeUpdated',
      'requireInfrastructureEncryption of an encryption scope is set at creation.',
    );
    return undefined;
  }
  return {
    name,
    source: source === 'microsoft.keyvault' ? 'Microsoft.KeyVault' : 'Microsoft.Storage',
    state:
      body.state === 'Disabled'
        ? 'Disabled'
        : body.state === 'Enabled'
          ? 'Enabled'
          : (existing?.state ?? 'Enabled'),
    requireInfrastructureEncryption: existing?.requireInfrastructureEncryption ?? infrastructure === true,
    creationTime: existing?.creationTime ?? now,
    lastModifiedTime: now,
  };
}

/** `https://<vault>.vault.azure.net/keys/<name>[/<version>]` split, or undefined. */
function parseKeyUri(uri: string): { name: string; version?: string } | undefined {
  const m =
    /^https:\/\/[a-z0-9-]+\.vault\.azure\.net(?::443)?\/keys\/([a-z0-9-]+)(?:\/([a-f0-9]{32}))?\/?$/i.exec(
      uri,
    );
  if (!m) return undefined;
  return m[2] ? { name: m[1]!, version: m[2].toLowerCase() } : { name: m[1]! };
}

function view(account: StorageAccount, s: EncryptionScope): Record<string, unknown> {
  return {
    id: `${storageAccountId(account)}/encryptionScopes/${s.name}`,
    name: s.name,
    type: 'Microsoft.Storage/storageAccounts/encryptionScopes',
    properties: {
      source: s.source,
      state: s.state,
      creationTime: s.creationTime,
      lastModifiedTime: s.lastModifiedTime,
      requireInfrastructureEncryption: s.requireInfrastructureEncryption,
      ...(s.source === 'Microsoft.KeyVault'
        ? {
            keyVaultProperties: {
              keyUri: s.keyUri,
              currentVersionedKeyIdentifier: s.currentVersionedKeyIdentifier,
              lastKeyRotationTimestamp: s.lastKeyRotationTimestamp,
            },
          }
        : {}),
    },
  };
}

function methodNotAllowed(ctx: Ctx): void {
  armError(
    ctx,
    405,
    'MethodNotAllowed',
    `${ctx.method} is not supported on encryption scopes (encryption scopes cannot be deleted, only disabled).`,
  );
}
