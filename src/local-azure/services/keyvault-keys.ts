/**
 * Key Vault key operations on one vault: create, get, list versions (paged), update, rotate,
 * rotation policy, soft delete/recover/purge, and wrap/unwrap with real RSA-OAEP.
 */
import type { KeyPermission } from '../access';
import { jsonBody, kvError, send, type Ctx, type Env } from '../http';
import type { DeletedKey, KeyRecord, KeyVersion, Vault } from '../model';
import { createKeyVersion, unwrap, wrap, WRAP_ALGORITHMS } from '../rsa';
import { isoDurationMs } from '../iso-duration';
import { policyView, setPolicy } from './keyvault-rotation';
import { deletedKeyItemView, deletedKeyView, keyBundleView, keyItemView, kidOf } from '../views';

/** A parsed data-plane request. */
export interface KeyOp {
  op:
    | 'create'
    | 'get'
    | 'list'
    | 'listVersions'
    | 'update'
    | 'rotate'
    | 'getRotationPolicy'
    | 'setRotationPolicy'
    | 'delete'
    | 'listDeleted'
    | 'getDeleted'
    | 'recover'
    | 'purge'
    | 'wrapKey'
    | 'unwrapKey';
  permission: KeyPermission;
  name?: string;
  version?: string;
}

type Attrs = { enabled?: boolean; nbf?: number; exp?: number };
const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const DEFAULT_OPS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'];
/** JsonWebKeyOperation in the Key Vault REST spec (keys.json): the only values `key_ops` may hold. */
const KEY_OPERATIONS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey', 'import', 'export'];

/** Answers 400 for a `key_ops` value that is not a key operation; true when all are. */
function keyOpsValid(ctx: Ctx, ops: unknown): boolean {
  if (ops === undefined) return true;
  const bad: unknown = Array.isArray(ops)
    ? (ops as unknown[]).find((o) => typeof o !== 'string' || !KEY_OPERATIONS.includes(o))
    : ops;
  if (bad === undefined) return true;
  kvError(
    ctx,
    400,
    'BadParameter',
    `Invalid key operation ${JSON.stringify(bad)}. key_ops may contain ${KEY_OPERATIONS.join(', ')}.`,
  );
  return false;
}
const DAY_MS = 86_400_000;

const notFound = (ctx: Ctx, what: string): void =>
  kvError(
    ctx,
    404,
    'KeyNotFound',
    `A key with (name/id) ${what} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );

function page<T>(ctx: Ctx, items: T[], base: string): { value: T[]; nextLink: string | null } {
  const max = Math.min(25, Math.max(1, Number(ctx.query.maxresults ?? 25) || 25));
  const skip = Number(ctx.query.$skiptoken ?? 0) || 0;
  const rest = skip + max < items.length;
  return {
    value: items.slice(skip, skip + max),
    nextLink: rest
      ? `${base}?api-version=${ctx.query['api-version']}&$skiptoken=${skip + max}&maxresults=${max}`
      : null,
  };
}

function applyAttributes(kv: KeyVersion, a: Attrs | undefined, now: number): void {
  if (!a) return;
  if (typeof a.enabled === 'boolean') kv.enabled = a.enabled;
  if (a.nbf !== undefined) kv.nbf = a.nbf;
  if (a.exp !== undefined) kv.exp = a.exp;
  kv.updated = now;
}

async function create(
  ctx: Ctx,
  env: Env,
  v: Vault,
  name: string,
  existing: KeyRecord | undefined,
): Promise<void> {
  const body =
    jsonBody<{
      kty?: string;
      key_size?: number;
      key_ops?: string[];
      attributes?: Attrs;
      tags?: Record<string, string>;
    }>(ctx) ?? {};
  if (!KEY_NAME.test(name))
    return kvError(
      ctx,
      400,
      'BadParameter',
      `The key name '${name}' is invalid: use 1-127 letters, digits and hyphens.`,
    );
  if (v.deletedKeys[name.toLowerCase()])
    return kvError(
      ctx,
      409,
      'Conflict',
      `Key ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.`,
      'ObjectIsDeletedButRecoverable',
    );
  const kty = body.kty;
  if (kty !== 'RSA' && kty !== 'RSA-HSM')
    return kvError(
      ctx,
      400,
      'BadParameter',
      `Key type '${String(kty)}' is not supported by the local Azure; use RSA or RSA-HSM.`,
    );
  if (kty === 'RSA-HSM' && v.properties.sku.name !== 'premium')
    return kvError(ctx, 400, 'BadParameter', 'Hardware key operation not allowed on standard vault.');
  const keySize = body.key_size ?? 2048;
  if (![2048, 3072, 4096].includes(keySize))
    return kvError(
      ctx,
      400,
      'BadParameter',
      `Invalid key size: ${keySize}. Valid RSA key sizes are 2048, 3072 and 4096.`,
    );
  if (!keyOpsValid(ctx, body.key_ops)) return;
  if (body.tags && Object.keys(body.tags).length > 15)
    return kvError(ctx, 400, 'BadParameter', 'A key can have at most 15 tags.');
  const now = Math.floor(env.clock.nowMs() / 1000);
  const kv = await createKeyVersion(
    {
      kty,
      keySize,
      keyOps: body.key_ops?.length ? body.key_ops : DEFAULT_OPS,
      enabled: body.attributes?.enabled ?? true,
      nbf: body.attributes?.nbf,
      exp: body.attributes?.exp,
      tags: body.tags ?? {},
    },
    now,
  );
  const key = existing ?? { name, versions: [] };
  key.versions.push(kv);
  v.keys[name.toLowerCase()] = key;
  env.state.changed();
  send(ctx, 200, keyBundleView(v, key, kv));
}

async function rotate(ctx: Ctx, env: Env, v: Vault, key: KeyRecord): Promise<void> {
  const current = key.versions.at(-1) as KeyVersion;
  const now = env.clock.nowMs();
  const expiry = key.rotationPolicy?.expiryTime ? isoDurationMs(key.rotationPolicy.expiryTime) : undefined;
  const kv = await createKeyVersion(
    {
      kty: current.kty,
      keySize: current.keySize,
      keyOps: current.keyOps,
      enabled: true,
      tags: current.tags,
      nbf: undefined,
      exp: expiry ? Math.floor((now + expiry) / 1000) : undefined,
    },
    Math.floor(now / 1000),
  );
  key.versions.push(kv);
  env.state.changed();
  send(ctx, 200, keyBundleView(v, key, kv));
}

function crypt(
  ctx: Ctx,
  v: Vault,
  key: KeyRecord,
  kv: KeyVersion,
  op: 'wrapKey' | 'unwrapKey',
  nowS: number,
): void {
  const body = jsonBody<{ alg?: string; value?: string }>(ctx) ?? {};
  if (!kv.enabled)
    return kvError(ctx, 403, 'Forbidden', `Operation ${op} is not allowed on a disabled key.`, 'KeyDisabled');
  if (op === 'wrapKey' && kv.exp !== undefined && kv.exp <= nowS)
    return kvError(
      ctx,
      403,
      'Forbidden',
      'Operation wrapKey is not allowed on an expired key.',
      'KeyExpired',
    );
  // Outside the nbf/exp window unwrap (like decrypt and verify) still works; wrap does not
  // (about-keys-details, "Date-time controlled operations").
  if (op === 'wrapKey' && kv.nbf !== undefined && kv.nbf > nowS)
    return kvError(
      ctx,
      403,
      'Forbidden',
      `Operation ${op} is not allowed on a key that is not yet valid.`,
      'KeyNotYetValid',
    );
  if (!kv.keyOps.some((o) => o.toLowerCase() === op.toLowerCase()))
    return kvError(
      ctx,
      403,
      'Forbidden',
      `Operation ${op} is not permitted on this key.`,
      'KeyOperationForbidden',
    );
  if (!body.alg || !WRAP_ALGORITHMS.includes(body.alg))
    return kvError(
      ctx,
      400,
      'BadParameter',
      `Algorithm '${String(body.alg)}' is not supported; use ${WRAP_ALGORITHMS.join(' or ')}.`,
    );
  if (typeof body.value !== 'string') return kvError(ctx, 400, 'BadParameter', 'Property value is required.');
  try {
    const input = Buffer.from(body.value, 'base64url');
    const out = op === 'wrapKey' ? wrap(kv, body.alg, input) : unwrap(kv, body.alg, input);
    send(ctx, 200, { kid: kidOf(v, key.name, kv.version), value: out.toString('base64url') });
  } catch {
    kvError(ctx, 400, 'BadParameter', 'The value could not be processed with the given key and algorithm.');
  }
}

const origin = (v: Vault): string => `https://${v.name}.vault.azure.net`;

/** The key an operation names, or undefined after answering 404. */
function keyFor(ctx: Ctx, v: Vault, p: KeyOp): KeyRecord | undefined {
  const key = v.keys[(p.name ?? '').toLowerCase()];
  if (!key) notFound(ctx, p.name ?? '');
  return key;
}

/** The version an operation names (the current one when none), or undefined after answering 404. */
function versionFor(ctx: Ctx, v: Vault, p: KeyOp): { key: KeyRecord; kv: KeyVersion } | undefined {
  const key = keyFor(ctx, v, p);
  if (!key) return undefined;
  const kv = p.version ? key.versions.find((x) => x.version === p.version) : key.versions.at(-1);
  if (!kv) {
    notFound(ctx, `${p.name ?? ''}/${p.version ?? ''}`);
    return undefined;
  }
  return { key, kv };
}

/** The soft-deleted key an operation names, or undefined after answering 404. */
function deletedFor(ctx: Ctx, v: Vault, p: KeyOp): DeletedKey | undefined {
  const d = v.deletedKeys[(p.name ?? '').toLowerCase()];
  if (!d) kvError(ctx, 404, 'KeyNotFound', `Deleted Key not found: ${p.name ?? ''}`);
  return d;
}

function recoverOrPurge(ctx: Ctx, env: Env, v: Vault, p: KeyOp): void {
  const d = deletedFor(ctx, v, p);
  if (!d) return;
  if (p.op === 'purge' && v.properties.enablePurgeProtection) {
    return kvError(
      ctx,
      403,
      'Forbidden',
      `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.`,
      'ForbiddenByPolicy',
    );
  }
  const lc = d.key.name.toLowerCase();
  delete v.deletedKeys[lc];
  if (p.op === 'recover') v.keys[lc] = d.key;
  env.state.changed();
  return p.op === 'purge'
    ? send(ctx, 204)
    : send(ctx, 200, keyBundleView(v, d.key, d.key.versions.at(-1) as KeyVersion));
}

function deleteKey(ctx: Ctx, env: Env, v: Vault, key: KeyRecord): void {
  const lc = key.name.toLowerCase();
  delete v.keys[lc];
  const now = env.clock.nowMs();
  const deleted: DeletedKey = {
    key,
    deletedDate: Math.floor(now / 1000),
    scheduledPurgeDate: Math.floor((now + v.properties.softDeleteRetentionInDays * DAY_MS) / 1000),
  };
  v.deletedKeys[lc] = deleted;
  env.state.changed();
  return send(ctx, 200, deletedKeyView(v, deleted));
}

function updateVersion(ctx: Ctx, env: Env, v: Vault, key: KeyRecord, kv: KeyVersion): void {
  const nowS = Math.floor(env.clock.nowMs() / 1000);
  const body = jsonBody<{ attributes?: Attrs; key_ops?: string[]; tags?: Record<string, string> }>(ctx) ?? {};
  if (!keyOpsValid(ctx, body.key_ops)) return;
  applyAttributes(kv, body.attributes, nowS);
  if (body.key_ops) kv.keyOps = body.key_ops;
  if (body.tags) kv.tags = body.tags;
  kv.updated = nowS;
  env.state.changed();
  return send(ctx, 200, keyBundleView(v, key, kv));
}

type Handler = (ctx: Ctx, env: Env, v: Vault, p: KeyOp) => void | Promise<void>;
const withKey =
  (fn: (ctx: Ctx, env: Env, v: Vault, key: KeyRecord) => void | Promise<void>): Handler =>
  (ctx, env, v, p) => {
    const key = keyFor(ctx, v, p);
    return key && fn(ctx, env, v, key);
  };
const withVersion =
  (fn: (ctx: Ctx, env: Env, v: Vault, key: KeyRecord, kv: KeyVersion) => void): Handler =>
  (ctx, env, v, p) => {
    const found = versionFor(ctx, v, p);
    return found && fn(ctx, env, v, found.key, found.kv);
  };

/** Every key operation by name; auth, limits and permissions have passed before any runs. */
const OPERATIONS: Record<KeyOp['op'], Handler> = {
  list: (ctx, _env, v) =>
    send(
      ctx,
      200,
      page(
        ctx,
        Object.values(v.keys).map((k) => keyItemView(v, k, k.versions.at(-1) as KeyVersion, false)),
        `${origin(v)}/keys`,
      ),
    ),
  listDeleted: (ctx, _env, v) =>
    send(
      ctx,
      200,
      page(
        ctx,
        Object.values(v.deletedKeys).map((d) => deletedKeyItemView(v, d)),
        `${origin(v)}/deletedkeys`,
      ),
    ),
  create: (ctx, env, v, p) => create(ctx, env, v, p.name ?? '', v.keys[(p.name ?? '').toLowerCase()]),
  getDeleted: (ctx, _env, v, p) => {
    const d = deletedFor(ctx, v, p);
    if (d) send(ctx, 200, deletedKeyView(v, d));
  },
  recover: recoverOrPurge,
  purge: recoverOrPurge,
  rotate: withKey(rotate),
  getRotationPolicy: withKey((ctx, _env, v, key) => send(ctx, 200, policyView(v, key))),
  setRotationPolicy: withKey(setPolicy),
  listVersions: withKey((ctx, _env, v, key) =>
    send(
      ctx,
      200,
      page(
        ctx,
        key.versions.map((kv) => keyItemView(v, key, kv, true)),
        `${origin(v)}/keys/${key.name}/versions`,
      ),
    ),
  ),
  delete: withKey(deleteKey),
  get: withVersion((ctx, _env, v, key, kv) => send(ctx, 200, keyBundleView(v, key, kv))),
  update: withVersion(updateVersion),
  wrapKey: withVersion((ctx, env, v, key, kv) => crypt(ctx, v, key, kv, 'wrapKey', nowSeconds(env))),
  unwrapKey: withVersion((ctx, env, v, key, kv) => crypt(ctx, v, key, kv, 'unwrapKey', nowSeconds(env))),
};

const nowSeconds = (env: Env): number => Math.floor(env.clock.nowMs() / 1000);

/** Runs one key operation after auth, limits and permissions passed. */
export async function keyOperation(ctx: Ctx, env: Env, v: Vault, p: KeyOp): Promise<void> {
  await OPERATIONS[p.op](ctx, env, v, p);
}
