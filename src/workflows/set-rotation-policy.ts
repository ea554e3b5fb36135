/**
 * `setRotationPolicy`: sets Key Vault's automatic rotation policy on a key — named by vault and
 * key (the run locks the key), or, for runs started before keys could be named, the key an
 * account uses. The plan shows the policy now and after, and which accounts will not follow.
 */
import { validateKeyName, validateVaultName, ValidationError } from '../shared/names';
import type { RotationPolicyState } from '../shared/activities';
import { validateRotationPolicy } from '../shared/rotation-policy';
import type { KeyRef, RunResult, SetRotationPolicyInput } from '../shared/runbooks';
import { keyTargetOf } from '../shared/start';
import { summaryLine } from '../shared/status';
import { azure } from './proxies';
import { runRunbook, type RunbookTarget } from './runbook';

const FIELDS = ['rotateAfter', 'rotateBeforeExpiry', 'expiresAfter', 'notifyBeforeExpiry'] as const;

/** Sets when Key Vault rotates a key and when its versions expire. */
export async function setRotationPolicy(input: SetRotationPolicyInput): Promise<RunResult> {
  const durations: RotationPolicyState = {
    rotateAfter: input.rotateAfter,
    rotateBeforeExpiry: input.rotateBeforeExpiry,
    expiresAfter: input.expiresAfter,
    notifyBeforeExpiry: input.notifyBeforeExpiry,
  };
  const key = input.key;
  return runRunbook({
    operation: 'setRotationPolicy',
    input,
    ...(key ? { target: keyTarget(key, durations) } : {}),
    summary: key
      ? summaryLine('setRotationPolicy', undefined, { vault: key.vault, key: key.name })
      : summaryLine('setRotationPolicy', input.account),
    validate: () => {
      if (key) {
        validateVaultName(key.vault, 'key.vault');
        validateKeyName(key.name, 'key.name');
        validateRotationPolicy(durations);
      } else if (FIELDS.every((f) => durations[f] === undefined)) {
        throw new ValidationError(
          'rotationPolicy',
          'give at least one of rotateAfter, rotateBeforeExpiry, expiresAfter, notifyBeforeExpiry',
        );
      }
    },
    request: { operation: 'setRotationPolicy', ...durations },
    change: async (run) => {
      const what = key ? `${key.vault}/${key.name}` : `${run.account.name}'s key`;
      const applied = await run.step(
        'rotationPolicy',
        'Rotation policy',
        () =>
          key
            ? azure.setKeyRotationPolicy.executeWithOptions(
                { summary: `Set the rotation policy of ${what}` },
                [{ key, ...durations }],
              )
            : azure.setRotationPolicy.executeWithOptions({ summary: `Set the rotation policy of ${what}` }, [
                { account: run.account, ...durations },
              ]),
        (p) => words(p),
      );
      return {
        message: `${key ? `Key ${what}` : `The key of ${run.account.name}`} now has a rotation policy: ${words(applied)}.`,
      };
    },
  });
}

/** A run on the key itself: cards name it, the proof names it, and the plan is the key's. */
function keyTarget(key: KeyRef, durations: RotationPolicyState): RunbookTarget {
  const label = `${key.vault}/${key.name}`;
  return {
    account: { subscriptionId: '', resourceGroup: '', name: label },
    subject: {
      kind: 'key',
      label,
      id: `https://${key.vault.toLowerCase()}.vault.azure.net/keys/${key.name}`,
    },
    proofTarget: keyTargetOf(key),
    inspect: () =>
      azure.inspectKeyPolicy.executeWithOptions({ summary: `Inspect ${label} (setRotationPolicy)` }, [
        { key, policy: durations },
      ]),
  };
}

function words(p: RotationPolicyState): string {
  return FIELDS.filter((f) => p[f])
    .map((f) => `${f} ${p[f]}`)
    .join(', ');
}
