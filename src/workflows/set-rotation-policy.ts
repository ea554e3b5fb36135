/**
 * `setRotationPolicy`: sets Key Vault's automatic rotation policy on the account's key.
 */
import { parseDurationMs } from '../shared/duration';
import type { RunResult, SetRotationPolicyInput } from '../shared/runbooks';
import { ValidationError } from '../shared/names';
import { summaryLine } from '../shared/status';
import { azure } from './proxies';
import { runRunbook } from './runbook';

const FIELDS = ['rotateAfter', 'rotateBeforeExpiry', 'expiresAfter', 'notifyBeforeExpiry'] as const;

/** Sets when Key Vault rotates the account's key and when versions expire. */
export async function setRotationPolicy(input: SetRotationPolicyInput): Promise<RunResult> {
  const durations = {
    rotateAfter: input.rotateAfter,
    rotateBeforeExpiry: input.rotateBeforeExpiry,
    expiresAfter: input.expiresAfter,
    notifyBeforeExpiry: input.notifyBeforeExpiry,
  };
  return runRunbook({
    operation: 'setRotationPolicy',
    input,
    summary: summaryLine('setRotationPolicy', input.account),
    validate: () => {
      if (FIELDS.every((f) => durations[f] === undefined)) {
        throw new ValidationError(
          'rotationPolicy',
          'give at least one of rotateAfter, rotateBeforeExpiry, expiresAfter, notifyBeforeExpiry',
        );
      }
      for (const f of FIELDS) if (durations[f] !== undefined) parseDurationMs(durations[f], f);
    },
    request: { operation: 'setRotationPolicy', ...durations },
    change: async (run) => {
      const account = run.account;
      const applied = await run.step(
        'rotationPolicy',
        'Rotation policy',
        () =>
          azure.setRotationPolicy.executeWithOptions(
            { summary: `Set the rotation policy of ${account.name}'s key` },
            [{ account, ...durations }],
          ),
        (p) =>
          FIELDS.filter((f) => p[f])
            .map((f) => `${f} ${p[f]}`)
            .join(', '),
      );
      const words = FIELDS.filter((f) => applied[f])
        .map((f) => `${f} ${applied[f]}`)
        .join(', ');
      return { message: `The key of ${account.name} now has a rotation policy: ${words}.` };
    },
  });
}
