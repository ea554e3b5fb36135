/**
 * How long Azure takes to apply a change of access, as named profiles. Delays run on the
 * emulated clock, so a test skips them with `clock.advance` instead of waiting.
 */
import type { StateTiming } from './inputs';

/** The delays of one profile, in milliseconds of emulated time. */
export interface PropagationProfile {
  /**
   * A role assignment created or deleted takes effect on Key Vault and Blob data after this
   * long: "up to 10 minutes (600 seconds) after role assignments is changed"
   * (key-vault/general/rbac-guide, Known limits and performance).
   */
  roleAssignmentMs: number;
  /**
   * After an account loses its key (disabled, deleted, access removed) Storage keeps serving
   * blob content this long. Microsoft publishes no figure for Storage; managed disks fail about
   * an hour after a key is disabled and Service Bus re-reads its key every 5 minutes. The Azure
   * profile assumes RBAC's 10 minutes.
   */
  revocationMs: number;
}

/** `azure`: the documented (or assumed) worst case; `fast`: for tests, a few hundred milliseconds. */
export const PROPAGATION_PROFILES = {
  azure: { roleAssignmentMs: 10 * 60_000, revocationMs: 10 * 60_000 },
  fast: { roleAssignmentMs: 150, revocationMs: 100 },
} as const satisfies Record<string, PropagationProfile>;

/** A profile by name. */
export type PropagationProfileName = keyof typeof PROPAGATION_PROFILES;

/** The timing a profile (default `azure`) and any explicit overrides give. */
export function timingFor(
  propagation: PropagationProfileName | Partial<PropagationProfile> = 'azure',
  overrides: { roleAssignmentPropagationMs?: number; revocationPropagationMs?: number } = {},
): StateTiming {
  const chosen: Partial<PropagationProfile> | undefined =
    typeof propagation === 'string'
      ? (PROPAGATION_PROFILES as Record<string, PropagationProfile>)[propagation]
      : propagation;
  if (!chosen)
    throw new Error(
      `Unknown propagation profile ${JSON.stringify(propagation)}; use ${Object.keys(PROPAGATION_PROFILES).join(' or ')}.`,
    );
  const profile = { ...PROPAGATION_PROFILES.azure, ...chosen };
  return {
    roleAssignmentPropagationMs: overrides.roleAssignmentPropagationMs ?? profile.roleAssignmentMs,
    revocationPropagationMs: overrides.revocationPropagationMs ?? profile.revocationMs,
  };
}

/**
 * Propagation options from the environment of `npm run azure:local` and `npm start`:
 * LOCAL_AZURE_PROPAGATION names a profile (else `fallback`), LOCAL_AZURE_ROLE_PROPAGATION_MS
 * and LOCAL_AZURE_REVOCATION_PROPAGATION_MS override its delays.
 */
export function propagationFromEnv(
  env: NodeJS.ProcessEnv,
  fallback: PropagationProfileName | Partial<PropagationProfile>,
): {
  propagation: PropagationProfileName | Partial<PropagationProfile>;
  roleAssignmentPropagationMs?: number;
  revocationPropagationMs?: number;
} {
  const ms = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`${name} must be a number of milliseconds, got ${JSON.stringify(raw)}.`);
    return value;
  };
  const named = env.LOCAL_AZURE_PROPAGATION;
  const propagation = named ? (named as PropagationProfileName) : fallback;
  timingFor(propagation);
  const role = ms('LOCAL_AZURE_ROLE_PROPAGATION_MS');
  const revocation = ms('LOCAL_AZURE_REVOCATION_PROPAGATION_MS');
  return {
    propagation,
    ...(role !== undefined ? { roleAssignmentPropagationMs: role } : {}),
    ...(revocation !== undefined ? { revocationPropagationMs: revocation } : {}),
  };
}
