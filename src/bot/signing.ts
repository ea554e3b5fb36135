/**
 * The bot's signatures over what a person did in Teams: a decision (a click on a run card), a
 * start (a command), and a cancel or a card to follow (run actions). Ed25519 compact JWS by `jose`; the worker verifies them with the public
 * key in `src/shared/proof.ts`. Only the bot process holds the private key.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { RequestOperation, Verdict } from '../shared/approval';
import type { ConversationRef } from '../shared/chat';
import { PROOF_LIFETIME_SECONDS, PROOF_TYPES, type RunAction } from '../shared/proof';

/** A decision to sign: the run and plan of the card, the verdict, the clicker and the click. */
export interface DecisionToSign {
  workflowId: string;
  runId: string;
  fingerprint: string;
  verdict: Verdict;
  approver: { aadObjectId: string; name: string };
  tenantId: string;
  /** The Teams invoke activity id. */
  invokeId: string;
  comment?: string;
  /** When the person clicked, in ms since the epoch (default: now). */
  issuedAtMs?: number;
}

/** A start to sign: who asks for what on which target, and where the run reports. */
export interface StartToSign {
  operation: RequestOperation;
  /** `startTargetOf(account)`, or a fleet's workflow id. */
  target: string;
  requester: { aadObjectId: string; name: string };
  tenantId: string;
  conversation?: ConversationRef;
  /** When the person asked, in ms since the epoch (default: now). */
  issuedAtMs?: number;
}

/** A cancel or follow to sign: the run, the person, and (to follow) the card's conversation and message. */
export interface RunActionToSign {
  action: RunAction;
  workflowId: string;
  runId: string;
  person: { aadObjectId: string; name: string };
  tenantId: string;
  /** The Teams activity id of the command or click. */
  activityId: string;
  /** `follow` only. */
  card?: { conversation: ConversationRef; messageId: string };
  issuedAtMs?: number;
}

/** Signs decisions and starts; one per bot process. */
export interface ProofSigner {
  /** The key id proofs carry (`kid`). */
  readonly kid: string;
  signDecision(decision: DecisionToSign): Promise<string>;
  /** Starts expire after a few minutes, except a schedule's: its runs start long after it was set up. */
  signStart(start: StartToSign): Promise<string>;
  /** Cancels and follows expire after a few minutes, like decisions. */
  signRunAction(action: RunActionToSign): Promise<string>;
}

/** A signer over the bot's Ed25519 private key (`SigningConfig`). */
export function createProofSigner({ privateKey, kid }: { privateKey: KeyObject; kid: string }): ProofSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('The bot signs with an Ed25519 key.');
  const sign = (
    typ: string,
    claims: Record<string, unknown>,
    expires: boolean,
    issuedAtMs = Date.now(),
  ): Promise<string> => {
    const now = Math.floor(issuedAtMs / 1000);
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid, typ }).setIssuedAt(now);
    return (expires ? jwt.setExpirationTime(now + PROOF_LIFETIME_SECONDS) : jwt).sign(privateKey);
  };
  return {
    kid,
    signDecision(d) {
      return sign(
        PROOF_TYPES.decision,
        {
          wf: d.workflowId,
          run: d.runId,
          fp: d.fingerprint,
          verdict: d.verdict,
          sub: d.approver.aadObjectId.toLowerCase(),
          name: d.approver.name,
          tid: d.tenantId.toLowerCase(),
          jti: d.invokeId,
          ...(d.comment ? { comment: d.comment } : {}),
        },
        true,
        d.issuedAtMs,
      );
    },
    signStart(s) {
      return sign(
        PROOF_TYPES.start,
        {
          op: s.operation,
          target: s.target,
          sub: s.requester.aadObjectId.toLowerCase(),
          name: s.requester.name,
          tid: s.tenantId.toLowerCase(),
          ...(s.conversation ? { conv: s.conversation } : {}),
          jti: randomUUID(),
        },
        s.operation !== 'scheduleRotation',
        s.issuedAtMs,
      );
    },
    signRunAction(a) {
      return sign(
        PROOF_TYPES.runAction,
        {
          act: a.action,
          wf: a.workflowId,
          run: a.runId,
          sub: a.person.aadObjectId.toLowerCase(),
          name: a.person.name,
          tid: a.tenantId.toLowerCase(),
          ...(a.card ? { conv: a.card.conversation, msg: a.card.messageId } : {}),
          jti: a.activityId,
        },
        true,
        a.issuedAtMs,
      );
    },
  };
}
