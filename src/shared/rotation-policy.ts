/**
 * Key Vault rotation policies as runbooks take them, checked against Azure's minimums before
 * anything is written: rotation at least 7 days, expiry at least 28, one rotation trigger,
 * triggers that count back from an expiry need one. Pure: the bot checks chat input with it.
 */
import type { RotationPolicyState } from './activities';
import { parseDurationMs, toIsoDays } from './duration';
import { ValidationError } from './names';

const DAY_MS = 86_400_000;

/** How each field is called where the policy came from (run input, or chat options). */
export type PolicyFieldNames = Record<keyof RotationPolicyState, string>;

/** The names in run input and activity calls. */
export const POLICY_FIELDS: PolicyFieldNames = {
  rotateAfter: 'rotateAfter',
  rotateBeforeExpiry: 'rotateBeforeExpiry',
  expiresAfter: 'expiresAfter',
  notifyBeforeExpiry: 'notifyBeforeExpiry',
};

/** Validates a rotation policy against Azure's minimums; returns it as ISO 8601 days. */
export function validateRotationPolicy(
  input: RotationPolicyState,
  names: PolicyFieldNames = POLICY_FIELDS,
): RotationPolicyState {
  const ms = (field: keyof RotationPolicyState): number | undefined =>
    input[field] === undefined ? undefined : parseDurationMs(input[field], names[field]);
  const rotateAfter = ms('rotateAfter');
  const rotateBeforeExpiry = ms('rotateBeforeExpiry');
  const expiresAfter = ms('expiresAfter');
  const notifyBeforeExpiry = ms('notifyBeforeExpiry');
  if ([rotateAfter, rotateBeforeExpiry, expiresAfter, notifyBeforeExpiry].every((v) => v === undefined)) {
    throw new ValidationError('rotationPolicy', `give at least one of ${Object.values(names).join(', ')}`);
  }
  if (rotateAfter !== undefined && rotateBeforeExpiry !== undefined) {
    throw new ValidationError(
      names.rotateBeforeExpiry,
      `Key Vault allows one rotation trigger: give ${names.rotateAfter} or ${names.rotateBeforeExpiry}, not both`,
    );
  }
  const atLeast = (value: number | undefined, field: keyof RotationPolicyState, days: number): void => {
    if (value !== undefined && value < days * DAY_MS)
      throw new ValidationError(names[field], `must be at least ${days} days (P${days}D)`, input[field]);
  };
  atLeast(rotateAfter, 'rotateAfter', 7);
  atLeast(rotateBeforeExpiry, 'rotateBeforeExpiry', 7);
  atLeast(expiresAfter, 'expiresAfter', 28);
  atLeast(notifyBeforeExpiry, 'notifyBeforeExpiry', 7);
  for (const [field, value] of [
    ['rotateBeforeExpiry', rotateBeforeExpiry],
    ['notifyBeforeExpiry', notifyBeforeExpiry],
  ] as const) {
    if (value === undefined) continue;
    if (expiresAfter === undefined)
      throw new ValidationError(
        names[field],
        `needs ${names.expiresAfter}, since it counts back from the expiry`,
      );
    if (value >= expiresAfter)
      throw new ValidationError(names[field], `must be shorter than ${names.expiresAfter}`, input[field]);
  }
  if (rotateAfter !== undefined && expiresAfter !== undefined && rotateAfter >= expiresAfter) {
    throw new ValidationError(
      names.rotateAfter,
      `must be shorter than ${names.expiresAfter}, or the key expires before it rotates`,
      input.rotateAfter,
    );
  }
  const iso = (value: number | undefined): string | undefined =>
    value === undefined ? undefined : toIsoDays(value);
  return JSON.parse(
    JSON.stringify({
      rotateAfter: iso(rotateAfter),
      rotateBeforeExpiry: iso(rotateBeforeExpiry),
      expiresAfter: iso(expiresAfter),
      notifyBeforeExpiry: iso(notifyBeforeExpiry),
    }),
  ) as RotationPolicyState;
}
