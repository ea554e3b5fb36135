/**
 * `set-rotation-policy <vault>/<key>`: Key Vault's automatic rotation of a key, checked against
 * Azure's minimums here (each error names the chat option) and started as a run on the key.
 */
import { validateRotationPolicy, type PolicyFieldNames } from '../shared/rotation-policy';
import type { SetRotationPolicyInput } from '../shared/runbooks';
import { keyTargetOf } from '../shared/start';
import type { Command } from './commands';
import type { Handler } from './command-context';

/** The chat options each policy field is typed as. */
const CHAT_NAMES: PolicyFieldNames = {
  rotateAfter: '--rotate-after',
  rotateBeforeExpiry: '--rotate-before',
  expiresAfter: '--expire-after',
  notifyBeforeExpiry: '--notify-before',
};

/** Checks the policy, then starts the run that plans, asks (if policy says so) and sets it. */
export const startKeyPolicy: Handler<Extract<Command, { kind: 'setRotationPolicy' }>> = async (
  command,
  ctx,
) => {
  const durations = {
    ...(command.policy.rotateAfter ? { rotateAfter: command.policy.rotateAfter } : {}),
    ...(command.policy.rotateBefore ? { rotateBeforeExpiry: command.policy.rotateBefore } : {}),
    ...(command.policy.expireAfter ? { expiresAfter: command.policy.expireAfter } : {}),
    ...(command.policy.notifyBefore ? { notifyBeforeExpiry: command.policy.notifyBefore } : {}),
  };
  validateRotationPolicy(durations, CHAT_NAMES);
  const key = { vault: command.vault, name: command.key };
  const input: SetRotationPolicyInput = {
    key,
    ...durations,
    requester: { aadObjectId: ctx.requester.aadObjectId, name: ctx.requester.name },
    conversation: ctx.incoming.conversation,
    uiBaseUrl: ctx.deps.uiBaseUrl,
    startProof: await ctx.sign('setRotationPolicy', keyTargetOf(key)),
  };
  const started = await ctx.deps.runs.start({ operation: 'setRotationPolicy', input });
  return {
    text: `Started **${started.summary}**. I will post the plan here. [Open in Temporal UI](${started.uiUrl})`,
  };
};
