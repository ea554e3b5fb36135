/**
 * Refusals a person reads: each is a class (its reason code) with one plain sentence. The bot
 * and the workflow throw them, the bot branches on the class (or, across Temporal, on the
 * failure type, which is the class name) and never on the text. Pure.
 */

/** A request that was understood and refused; nothing was started, recorded or changed. */
export abstract class Refusal extends Error {
  abstract override readonly name: RefusalType;
}

/** The bot or the decide validator: the person belongs to another Entra tenant than the configured one. */
export class NotInTenant extends Refusal {
  override readonly name = 'NotInTenant';
}

/** The bot: Teams did not say who sent a command or click (no `aadObjectId`). */
export class IdentityMissing extends Refusal {
  override readonly name = 'IdentityMissing';
}

/** The bot or a run's first step: the person may not ask for this operation under the worker's policy. */
export class RequesterNotAllowed extends Refusal {
  override readonly name = 'RequesterNotAllowed';
}

/** The decide validator: the person is not an approver of the run's operation. */
export class ApproverNotAllowed extends Refusal {
  override readonly name = 'ApproverNotAllowed';
}

/** The decide validator: the requester tried to approve their own run. */
export class OwnRequest extends Refusal {
  override readonly name = 'OwnRequest';
}

/** The decide validator: this approver already decided, or the same click arrived again. */
export class AlreadyDecided extends Refusal {
  override readonly name = 'AlreadyDecided';
}

/** The decide validator or the bot: the run takes no decisions now (approved, rejected, expired, finished). */
export class ApprovalClosed extends Refusal {
  override readonly name = 'ApprovalClosed';
}

/** The bot or the decide validator: the card names no run or plan, or another run or an older plan. */
export class StaleCard extends Refusal {
  override readonly name = 'StaleCard';
}

/** The decide validator: the decision is unsigned, forged, expired or does not match what it claims. */
export class DecisionProofInvalid extends Refusal {
  override readonly name = 'DecisionProofInvalid';
}

/** A run's first step: the start is unsigned, forged, expired or does not match the run. */
export class StartProofInvalid extends Refusal {
  override readonly name = 'StartProofInvalid';
}

/** The bot or the worker's chat port: a conversation's service URL is not on the trusted list. */
export class UntrustedServiceUrl extends Refusal {
  override readonly name = 'UntrustedServiceUrl';
}

/** The cancel validator: the person is neither the run's requester nor an approver of its operation. */
export class CancelNotAllowed extends Refusal {
  override readonly name = 'CancelNotAllowed';
}

/** The cancel validator or the bot: the run has started changing Azure, has finished, or is already withdrawn. */
export class RunNotCancellable extends Refusal {
  override readonly name = 'RunNotCancellable';
}

/** The bot: there is no run in progress on the account, so there is nothing to cancel. */
export class NothingToCancel extends Refusal {
  override readonly name = 'NothingToCancel';
}

/** The cancel or follow validator: the action is unsigned, forged, expired or does not match what it claims. */
export class RunActionProofInvalid extends Refusal {
  override readonly name = 'RunActionProofInvalid';
}

/** The follow validator: the card to follow is in a conversation the worker does not trust, or is not signed. */
export class FollowRefused extends Refusal {
  override readonly name = 'FollowRefused';
}

/** The bot: the account already has a rotation schedule and the command did not say `--replace`. */
export class ScheduleExists extends Refusal {
  override readonly name = 'ScheduleExists';
}

const REFUSALS = {
  NotInTenant,
  IdentityMissing,
  RequesterNotAllowed,
  ApproverNotAllowed,
  OwnRequest,
  AlreadyDecided,
  ApprovalClosed,
  StaleCard,
  DecisionProofInvalid,
  StartProofInvalid,
  UntrustedServiceUrl,
  CancelNotAllowed,
  RunNotCancellable,
  NothingToCancel,
  FollowRefused,
  RunActionProofInvalid,
  ScheduleExists,
} as const;

/** The reason codes, which are also the Temporal failure types refusals travel as. */
export type RefusalType = keyof typeof REFUSALS;

/** Rebuilds a refusal from a failure's type and message; undefined when the type is not a refusal. */
export function refusalOf(type: string | undefined, message: string): Refusal | undefined {
  if (!type || !Object.hasOwn(REFUSALS, type)) return undefined;
  return new REFUSALS[type as RefusalType](message);
}
