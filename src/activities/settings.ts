/**
 * The settings activity: what the worker's configuration says a run may trust (approval policy,
 * bot keys, chat service URLs). A run reads it once at its start, so its history records the
 * policy it used and its hash, and a configuration change never alters a running approval.
 *
 * It also checks the run's start proof against the bot keys (`checkStartProof`, the same code the
 * workflow ran before), so the Ed25519 verification runs in the worker, outside the workflow
 * sandbox where it was many times slower, and by Node's crypto rather than in JavaScript. Why the run may trust the verdict: it comes from the same
 * worker and the same configured keys the run already trusts for its policy (a result its history
 * records either way; whoever could answer this activity in the worker's place could already hand
 * the run its own keys), and the history records the claims, so a replay reads the verdict instead
 * of re-deriving it. The run still checks everything else on the claims itself (scope, lifetime,
 * requester, tenant, who may ask, the conversation's service URL). Only public keys and what the
 * bot signed (already in the run's input) are recorded; the bot's private key is never here.
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { ApprovalPolicy } from '../shared/approval';
import type { RunSettings, RunSettingsRequest, SettingsActivities } from '../shared/activities';
import type { ApprovalsConversation } from '../shared/chat';
import { checkStartProof, type BotPublicKey, type Ed25519Verify } from '../shared/proof';
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
 * write queues it polls; refuses to exist without keys. Given a run's start proof, it adds its
 * verdict on it (`start`).
 */
export function createSettingsActivities(
  trust: WorkerTrust,
  armWriteSubscriptions: readonly string[] = [],
): SettingsActivities {
  if (trust.botKeys.length === 0) throw new Error('The worker needs at least one bot public key.');
  const verify = nodeEd25519Verify();
  const settings: RunSettings = {
    policy: trust.policy,
    policyHash: policyHashOf(trust.policy),
    botKeys: [...trust.botKeys],
    trustedServiceUrls: [...trust.trustedServiceUrls],
    ...(trust.approvals ? { approvals: trust.approvals } : {}),
    armWriteSubscriptions: [...new Set(armWriteSubscriptions.map((s) => s.toLowerCase()))],
  };
  return {
    loadRunSettings: async (request?: RunSettingsRequest) =>
      request === undefined
        ? settings
        : { ...settings, start: checkStartProof(request.startProof, settings.botKeys, verify) },
  };
}

/**
 * {@link Ed25519Verify} by Node's crypto (OpenSSL's strict RFC 8032 check), where the pure
 * JavaScript one the workflow sandbox must use cost ~2.5 ms of the worker's main thread per run
 * started, 2.5 s of CPU for a fleet of a thousand. Each public key (always a configured bot key)
 * is parsed once.
 */
export function nodeEd25519Verify(): Ed25519Verify {
  const parsed = new Map<string, KeyObject>();
  return (signature, message, publicKey) => {
    try {
      const x = Buffer.from(publicKey).toString('base64url');
      let key = parsed.get(x);
      if (!key) {
        key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
        parsed.set(x, key);
      }
      return verifySignature(null, message, key, signature);
    } catch {
      return false;
    }
  };
}
