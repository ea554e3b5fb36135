/**
 * Key rotation policies on the data plane: the service's default (Notify 30 days before expiry)
 * and the validation Key Vault applies when a policy is set.
 */
import { isoDurationMs } from '../iso-duration';
import { jsonBody, kvError, send, type Ctx, type Env } from '../http';
import type { KeyRecord, LifetimeAction, Vault } from '../model';

const DAY_MS = 86_400_000;

/** The rotation policy of a key as Key Vault returns it (the default when none was set). */
export function policyView(v: Vault, k: KeyRecord): Record<string, unknown> {
  const p = k.rotationPolicy;
  return {
    id: `https://${v.name}.vault.azure.net/keys/${k.name}/rotationpolicy`,
    lifetimeActions: p?.lifetimeActions ?? [
      { trigger: { timeBeforeExpiry: 'P30D' }, action: { type: 'Notify' } },
    ],
    attributes: p
      ? { ...(p.expiryTime ? { expiryTime: p.expiryTime } : {}), created: p.created, updated: p.updated }
      : {},
  };
}

/** Validates and stores a rotation policy, adding the default Notify action when none is given. */
export function setPolicy(ctx: Ctx, env: Env, v: Vault, k: KeyRecord): void {
  const body =
    jsonBody<{ lifetimeActions?: LifetimeAction[]; attributes?: { expiryTime?: string } }>(ctx) ?? {};
  const expiryTime = body.attributes?.expiryTime;
  const expiryMs = durationMs(expiryTime);
  if (expiryTime && (Number.isNaN(expiryMs) || (expiryMs ?? 0) < 28 * DAY_MS))
    return kvError(ctx, 400, 'BadParameter', 'Expiry time must be at least 28 days (P28D).');
  const actions: LifetimeAction[] = [];
  for (const a of body.lifetimeActions ?? []) {
    const action = lifetimeAction(a, Boolean(expiryTime));
    if (typeof action === 'string') return kvError(ctx, 400, 'BadParameter', action);
    actions.push(action);
  }
  if (!actions.some((a) => a.action.type === 'Notify'))
    actions.push({ trigger: { timeBeforeExpiry: 'P30D' }, action: { type: 'Notify' } });
  const now = Math.floor(env.clock.nowMs() / 1000);
  k.rotationPolicy = {
    lifetimeActions: actions,
    ...(expiryTime ? { expiryTime } : {}),
    created: k.rotationPolicy?.created ?? now,
    updated: now,
  };
  env.state.changed();
  send(ctx, 200, policyView(v, k));
}

/** A duration in ms; NaN for one Key Vault does not read, so the checks refuse it. */
function durationMs(d: string | undefined): number | undefined {
  return d ? (isoDurationMs(d) ?? NaN) : undefined;
}

/** The lifetime action Key Vault stores for `a`, or the sentence of its `BadParameter` refusal. */
function lifetimeAction(a: LifetimeAction, hasExpiry: boolean): LifetimeAction | string {
  const type = ['rotate', 'notify'].includes(String(a.action?.type).toLowerCase())
    ? String(a.action.type).toLowerCase() === 'rotate'
      ? 'Rotate'
      : 'Notify'
    : undefined;
  const after = durationMs(a.trigger?.timeAfterCreate);
  const before = durationMs(a.trigger?.timeBeforeExpiry);
  if (
    !type ||
    (after === undefined) === (before === undefined) ||
    Number.isNaN(after) ||
    Number.isNaN(before)
  )
    return 'Each lifetime action needs action.type Rotate or Notify and exactly one trigger, timeAfterCreate or timeBeforeExpiry, as an ISO 8601 duration.';
  if (type === 'Rotate' && after !== undefined && after < 7 * DAY_MS)
    return 'The minimum rotation interval is 7 days (P7D).';
  // Notify before expiry needs no policy expiry (Key Vault's own default policy is exactly
  // that); only a rotation timed before expiry does.
  if (type === 'Rotate' && before !== undefined && !hasExpiry)
    return 'Rotate with timeBeforeExpiry requires attributes.expiryTime.';
  if (type === 'Notify' && before !== undefined && before < 7 * DAY_MS)
    return 'Notify needs timeBeforeExpiry of at least 7 days (P7D).';
  return { trigger: a.trigger, action: { type } };
}
