/**
 * The settings activity: what the worker's configuration says a run may trust (approval policy,
 * bot keys, chat service URLs). A run reads it once at its start, so its history records the
 * policy it used and its hash, and a configuration change never alters a running approval.
 */
import { createHash } from 'node:crypto';
import type { ApprovalPolicy } from '../shared/approval';
import type { RunSettings, SettingsActivities } from '../shared/activities';
import type { ApprovalsConversation } from '../shared/chat';
import type { BotPublicKey } from '../shared/proof';
import { canonicalJson } from './live-state';

/** What the worker trusts, from its configuration (`policy`, `verifying` and `bot` parts). */
export interface WorkerTrust {
  policy: ApprovalPolicy;
  botKeys: BotPublicKey[];
  trustedServiceUrls: readonly string[];
  /** Where every approval request is also posted (`CMK_APPROVALS_CONVERSATION_ID`), if anywhere. */
  approvals?: ApprovalsConversation;
}

/** sha256 (hex) of a policy's canonical JSON: equal policies hash equal whatever their key order. */
export function policyHashOf(policy: ApprovalPolicy): string {
  return createHash('sha256').update(canonicalJson(policy)).digest('hex');
}

/**
 * The settings activity over the worker's trust configuration and the subscriptions whose ARM
 * write queues it polls; refuses to exist without keys.
 */
export function createSettingsActivities(
  trust: WorkerTrust,
  armWriteSubscriptions: readonly string[] = [],
): SettingsActivities {
  if (trust.botKeys.length === 0) throw new Error('The worker needs at least one bot public key.');
  const settings: RunSettings = {
    policy: trust.policy,
    policyHash: policyHashOf(trust.policy),
    botKeys: [...trust.botKeys],
    trustedServiceUrls: [...trust.trustedServiceUrls],
    ...(trust.approvals ? { approvals: trust.approvals } : {}),
    armWriteSubscriptions: [...new Set(armWriteSubscriptions.map((s) => s.toLowerCase()))],
  };
  return { loadRunSettings: async () => settings };
}
