/**
 * The approval gate every runbook uses: the `decide` update with a validator that refuses with
 * a precise sentence, N-of-M quorum with optional role separation, a deadline, and approvals
 * bound to the plan fingerprint so a change in Azure makes them lapse. Which operation's policy
 * applies is the plan's (`policyOperation`): a configure that is really a key change is approved
 * as one.
 */
import { condition, setCurrentDetails, setHandler } from '@temporalio/workflow';
import {
  approversFor,
  decideUpdate,
  quorumFor,
  sameTenant,
  VERDICTS,
  type DecideInput,
  type Decision,
  type RunStatus,
} from '../shared/approval';
import { approvalRequired } from '../shared/approval-rules';
import { parseDurationMs } from '../shared/duration';
import { PLAN_FACETS, type Plan, type PlanFacet } from '../shared/plan';
import { unverifiedClaims } from '../shared/proof';
import {
  AlreadyDecided,
  ApprovalClosed,
  ApproverNotAllowed,
  DecisionProofInvalid,
  NotInTenant,
  OwnRequest,
  StaleCard,
} from '../shared/refusals';
import { OPERATION_ENV_SUFFIX, OPERATION_TITLES, type Operation } from '../shared/runbooks';
import { verifiedDecision } from './decision-proof';
import { planMarkdown } from '../shared/status';
import type { Run } from './run';

/** How a wait for approval ended. */
export type GateOutcome =
  | { outcome: 'approved'; plan: Plan }
  | { outcome: 'not-required'; plan: Plan }
  | { outcome: 'rejected' | 'expired' | 'blocked' | 'cancelled'; plan: Plan; message: string };

/** Lapsed approvals are re-requested at most this often before the run gives up as blocked. */
const MAX_LAPSES = 3;

/** One gate per run. Create it at the start of the workflow so `decide` is registered early. */
export class ApprovalGate {
  /** The plan the current approval was given on; undefined while none holds. */
  private approvedPlan?: Plan;
  private changes = 0;
  private lapses = 0;
  /** How many times a quorum was reached (a lapse and a new approval make it grow). */
  approvals = 0;
  /**
   * Runs started with this code decide "destructive" by effect and re-check before every
   * destructive step (the runbook sets it from `patched`); replays of older runs keep the old rules.
   */
  byEffect = false;

  constructor(private readonly run: Run) {
    setHandler(decideUpdate, (input) => this.decide(input), {
      validator: (input: DecideInput) => this.validate(input),
      description: 'Approve or reject the plan shown on the run card.',
    });
  }

  /**
   * The operation whose approvers, quorum and roles govern a plan (the run's current one by
   * default): the plan's `approvalOperation` when it names one (a configure that is really a key
   * change), else the run's. The validator, the quorum and the card all go by it.
   */
  policyOperation(plan: Plan | undefined = this.run.status.plan): Operation {
    return plan?.approvalOperation ?? this.run.operation;
  }

  /**
   * Approval is needed as `approvalRequired` says: for revoke, disable and changeKey whatever
   * their plan says (decided by the effect of the operation, never by a lookup that can miss),
   * for restore-access and fleets whenever they change anything, when the plan is destructive or
   * irreversible, or when policy always asks for it.
   */
  isRequired(plan: Plan): boolean {
    return approvalRequired(plan, this.policyOperation(plan), this.run.context.policy, this.byEffect);
  }

  /** Whether an approval holds now (re-checks before destructive steps only matter then). */
  get approved(): boolean {
    return this.approvedPlan !== undefined;
  }

  /** Asks for approval of the plan when it is required and waits for quorum, rejection or the deadline. */
  async approve(plan: Plan): Promise<GateOutcome> {
    if (!this.isRequired(plan)) return { outcome: 'not-required', plan };
    const op = this.policyOperation(plan);
    if (approversFor(this.run.context.policy, op).length === 0) {
      const key = `CMK_APPROVERS_${OPERATION_ENV_SUFFIX[op]}`;
      return {
        outcome: 'blocked',
        plan,
        message: `${OPERATION_TITLES[op]} needs approval but no approvers are configured; set ${key} (or CMK_APPROVERS) to their Entra object ids and start again.`,
      };
    }
    return this.wait(plan);
  }

  /**
   * Call just before a destructive step: re-reads Azure; if any part of the state changed since
   * approval — other than the parts `excused` (what the run's own earlier steps changed) — the
   * approval lapses and a new one is requested on the new plan.
   */
  async confirmCurrent(
    plan: Plan,
    inspect: () => Promise<Plan>,
    excused: ReadonlySet<PlanFacet> = new Set(),
  ): Promise<GateOutcome> {
    if (this.approvedPlan === undefined) return { outcome: 'not-required', plan };
    let skip = excused;
    for (;;) {
      const fresh = await inspect();
      const drift = driftOf(this.approvedPlan, fresh, skip);
      if (drift.length === 0) return { outcome: 'approved', plan: fresh };
      const outcome = await this.askAgain(fresh, changedReason(this.approvedPlan, fresh, drift));
      if (outcome) return outcome;
      skip = new Set();
    }
  }

  /**
   * Azure refused to do what was approved because it changed (e.g. a grant appeared that the
   * revocation would have to remove): the approval lapses with `reason` and is asked again on a
   * fresh plan. Returns the outcome of the new approval.
   */
  async reapprove(reason: string, inspect: () => Promise<Plan>): Promise<GateOutcome> {
    const fresh = await inspect();
    return (await this.askAgain(fresh, reason)) ?? { outcome: 'approved', plan: fresh };
  }

  /** Lapses the approval and waits for a new one; undefined when it was given again. */
  private async askAgain(fresh: Plan, reason: string): Promise<GateOutcome | undefined> {
    if (this.lapses >= MAX_LAPSES) {
      return {
        outcome: 'blocked',
        plan: fresh,
        message: `Azure kept changing while approvals were collected (${MAX_LAPSES} times); start again when it is quiet.`,
      };
    }
    this.lapses++;
    await this.lapse(reason);
    if (fresh.blockers.length) return { outcome: 'blocked', plan: fresh, message: blockedMessage(fresh) };
    const outcome = await this.wait(fresh);
    return outcome.outcome === 'approved' ? undefined : outcome;
  }

  private async lapse(reason: string): Promise<void> {
    const approval = this.run.status.approval;
    approval.lapsedReason = reason;
    this.approvedPlan = undefined;
    this.run.setApprovalState('lapsed');
    if (!this.byEffect) return;
    // The card that was approved says why it lapsed; a new card asks again, so approvers notice.
    await this.run.publish();
    this.run.startNewCard();
  }

  private async wait(plan: Plan): Promise<GateOutcome> {
    const run = this.run;
    const deadlineMs = parseDurationMs(run.context.policy.deadline, 'policy.deadline');
    const deadlineAt = Date.now() + deadlineMs;
    run.setPlan(plan);
    const approval = run.status.approval;
    const op = this.policyOperation(plan);
    approval.decisions = [];
    approval.quorum = quorumFor(run.context.policy, op);
    approval.approvers = approversFor(run.context.policy, op);
    approval.deadline = new Date(deadlineAt).toISOString();
    approval.openedAt = new Date().toISOString();
    // Decisions can arrive as soon as the state is pending, even while the card is being posted.
    let seen = this.changes;
    run.setApprovalState('pending');
    setCurrentDetails(
      `Waiting for ${approval.quorum} approval(s) of **${OPERATION_TITLES[op]}** until ${approval.deadline}.\n\n${planMarkdown(plan)}`,
    );
    await run.setStage('awaiting-approval');
    for (;;) {
      const remaining = deadlineAt - Date.now();
      // A decision may have arrived while the card was being updated: look before waiting.
      // A cancel wakes the wait as a decision does; it is looked at first, so it wins over a quorum.
      const changed =
        this.changes !== seen ||
        run.cancelRequested ||
        (remaining > 0 && (await condition(() => this.changes !== seen || run.cancelRequested, remaining)));
      seen = this.changes;
      if (run.cancelRequested) {
        setCurrentDetails('');
        return { outcome: 'cancelled', plan, message: cancelledMessage(run) };
      }
      if (!changed) {
        run.setApprovalState('expired');
        setCurrentDetails('');
        return {
          outcome: 'expired',
          plan,
          message: `No decision within ${run.context.policy.deadline}${this.untouched() ? '; nothing was changed' : ''}. Start again to ask anew.`,
        };
      }
      const rejection = approval.decisions.find((d) => d.verdict === 'reject');
      if (rejection) {
        setCurrentDetails('');
        const why = rejection.comment ? `: ${rejection.comment.replace(/[.!?]*$/, '.')}` : '.';
        return {
          outcome: 'rejected',
          plan,
          message: `Rejected by ${rejection.approverName}${why}${this.untouched() ? ' Nothing was changed.' : ''}`,
        };
      }
      if (approval.state === 'approved') {
        this.approvedPlan = plan;
        this.approvals++;
        setCurrentDetails('');
        return { outcome: 'approved', plan };
      }
      await run.publish();
    }
  }

  /** True until a step of the run changed something (a lapse mid-run must not claim otherwise). */
  private untouched(): boolean {
    return !this.run.status.steps.some(
      (s) => s.status === 'done' && s.id !== 'preflight' && s.id !== 'approval',
    );
  }

  /** Refuses, with a sentence for the clicker, every decision that may not count; changes nothing. */
  private validate(input: DecideInput): void {
    const run = this.run;
    const approval = run.status.approval;
    switch (approval.state) {
      case 'rejected':
        throw new ApprovalClosed('This run was already rejected.');
      case 'expired':
        throw new ApprovalClosed('This approval has expired.');
      case 'approved':
        throw new ApprovalClosed('This run was already approved.');
      case 'cancelled':
        throw new ApprovalClosed(`This run was cancelled by ${run.status.cancelled?.by.name ?? 'someone'}.`);
      case 'pending':
        break;
      default:
        throw new ApprovalClosed('This run is not waiting for approval.');
    }
    if (!input || typeof input.approverAadId !== 'string' || !VERDICTS.includes(input.verdict)) {
      throw new DecisionProofInvalid(
        'A decision needs your Entra object id and a verdict of approve or reject.',
      );
    }
    const claims = verifiedDecision(input, run.context.botKeys, Date.now());
    if (!sameTenant(claims.tid, run.context.policy.tenantId)) {
      throw new NotInTenant(
        'You signed in from another tenant; approvals for this run come from its own tenant.',
      );
    }
    const who = claims.sub;
    if (who === run.context.requester.aadObjectId.toLowerCase()) {
      throw new OwnRequest('You requested this run; someone else must approve it.');
    }
    const op = this.policyOperation(run.status.plan);
    if (!approversFor(run.context.policy, op).includes(who)) {
      throw new ApproverNotAllowed(`You are not an approver for ${OPERATION_TITLES[op]}.`);
    }
    const earlier = approval.decisions.find((d) => d.approverAadId.toLowerCase() === who);
    if (earlier) throw new AlreadyDecided(`You already ${earlier.verdict}d this run.`);
    if (approval.decisions.some((d) => d.proofId === claims.jti)) {
      throw new AlreadyDecided('This click was already counted.');
    }
    if (claims.fp !== run.status.plan?.fingerprint) {
      throw new StaleCard('This card shows an older plan; refresh it.');
    }
  }

  private decide(input: DecideInput): RunStatus {
    const run = this.run;
    const approval = run.status.approval;
    const decision: Decision = {
      approverAadId: input.approverAadId.toLowerCase(),
      approverName: input.approverName,
      verdict: input.verdict,
      comment: input.comment,
      at: new Date().toISOString(),
      fingerprint: run.status.plan?.fingerprint ?? '',
    };
    const proofId = input.proof ? unverifiedClaims(input.proof)?.jti : undefined;
    if (typeof proofId === 'string') decision.proofId = proofId;
    approval.decisions.push(decision);
    if (decision.verdict === 'reject') run.setApprovalState('rejected');
    else if (quorumMet(run, this.policyOperation(), approval.decisions)) run.setApprovalState('approved');
    this.changes++;
    return run.status;
  }
}

/** Quorum: enough approvals, and at least one from every role the policy names for the operation. */
function quorumMet(run: Run, op: Operation, decisions: Decision[]): boolean {
  const approvals = decisions.filter((d) => d.verdict === 'approve').map((d) => d.approverAadId);
  if (approvals.length < quorumFor(run.context.policy, op)) return false;
  const roles = run.context.policy.roles?.[op] ?? [];
  return roles.every((role) => role.approvers.some((id) => approvals.includes(id.toLowerCase())));
}

const FACET_WORDS: Record<PlanFacet, string> = {
  encryption: "the account's encryption",
  identity: "the account's identity",
  vault: 'the vault',
  key: 'the key',
  grant: 'key access',
};

/**
 * The parts of the approved state that differ in `fresh`, leaving out the excused ones; plans
 * without facets (made by older code) compare whole fingerprints and cannot excuse anything.
 */
function driftOf(approved: Plan, fresh: Plan, excused: ReadonlySet<PlanFacet>): string[] {
  const before = approved.facets;
  const now = fresh.facets;
  if (!before || !now)
    return approved.fingerprint === fresh.fingerprint && excused.size === 0 ? [] : ['the plan'];
  return PLAN_FACETS.filter((f) => !excused.has(f) && before[f] !== now[f]).map((f) => FACET_WORDS[f]);
}

function changedReason(old: Plan, fresh: Plan, drift: string[]): string {
  return `The plan changed in Azure after approval (${drift.join(', ')}: ${old.fingerprint.slice(0, 8)} → ${fresh.fingerprint.slice(0, 8)}); the earlier approval lapsed. Review the new plan.`;
}

/** Why a run ended `cancelled` from chat: who withdrew it, and that Azure was not changed. */
export function cancelledMessage(run: Run): string {
  const by = run.status.cancelled?.by;
  const who = by ? by.name || by.aadObjectId : 'someone';
  return `Cancelled by ${who} before any change; ${run.account.name} is as it was and free for another run.`;
}

/** The message of a plan that cannot go ahead: each blocker with its fix. */
export function blockedMessage(plan: Plan): string {
  return `Nothing was changed: ${plan.blockers.map((b) => `${b.message} ${b.fix}`).join(' ')}`;
}
