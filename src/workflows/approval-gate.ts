/**
 * The approval gate every runbook uses: the `decide` update with a validator that refuses with
 * a precise sentence, N-of-M quorum with optional role separation, a deadline, and approvals
 * bound to the plan fingerprint so a change in Azure makes them lapse.
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
import { parseDurationMs } from '../shared/duration';
import type { Plan } from '../shared/plan';
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
import { verifiedDecision } from './decision-proof';
import { OPERATION_ENV_SUFFIX, OPERATION_TITLES, type Operation } from '../shared/runbooks';
import { planMarkdown } from '../shared/status';
import type { Run } from './run';

/** How a wait for approval ended. */
export type GateOutcome =
  | { outcome: 'approved'; plan: Plan }
  | { outcome: 'not-required'; plan: Plan }
  | { outcome: 'rejected' | 'expired' | 'blocked'; plan: Plan; message: string };

/** Operations destructive by nature: any planned change of theirs needs approval. */
const DESTRUCTIVE_OPERATIONS: readonly Operation[] = ['revoke', 'disable', 'changeKey'];

/** Lapsed approvals are re-requested at most this often before the run gives up as blocked. */
const MAX_LAPSES = 3;

/** One gate per run. Create it at the start of the workflow so `decide` is registered early. */
export class ApprovalGate {
  private approvedFingerprint?: string;
  private changes = 0;

  constructor(private readonly run: Run) {
    setHandler(decideUpdate, (input) => this.decide(input), {
      validator: (input: DecideInput) => this.validate(input),
      description: 'Approve or reject the plan shown on the run card.',
    });
  }

  /** Approval is needed when the plan is destructive or irreversible, or policy always asks for it. */
  isRequired(plan: Plan): boolean {
    const op = this.run.operation;
    return (
      plan.destructive ||
      plan.irreversible.length > 0 ||
      (DESTRUCTIVE_OPERATIONS.includes(op) && plan.steps.some((s) => s.destructive && !s.skip)) ||
      (this.run.context.policy.alwaysApprove ?? []).includes(op)
    );
  }

  /** Asks for approval of the plan when it is required and waits for quorum, rejection or the deadline. */
  async approve(plan: Plan): Promise<GateOutcome> {
    if (!this.isRequired(plan)) return { outcome: 'not-required', plan };
    const op = this.run.operation;
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
   * Call just before a destructive step: re-reads Azure; if the plan's fingerprint changed since
   * approval, the approval lapses and a new one is requested on the new plan.
   */
  async confirmCurrent(plan: Plan, inspect: () => Promise<Plan>): Promise<GateOutcome> {
    if (this.approvedFingerprint === undefined) return { outcome: 'not-required', plan };
    let current = plan;
    for (let lapses = 0; ; lapses++) {
      const fresh = await inspect();
      if (fresh.fingerprint === this.approvedFingerprint) return { outcome: 'approved', plan: fresh };
      if (lapses >= MAX_LAPSES) {
        return {
          outcome: 'blocked',
          plan: fresh,
          message: `Azure kept changing while approvals were collected (${MAX_LAPSES} times); start again when it is quiet.`,
        };
      }
      this.lapse(current, fresh);
      if (fresh.blockers.length) {
        return { outcome: 'blocked', plan: fresh, message: blockedMessage(fresh) };
      }
      const outcome = await this.wait(fresh);
      if (outcome.outcome !== 'approved') return outcome;
      current = fresh;
    }
  }

  private lapse(old: Plan, fresh: Plan): void {
    const approval = this.run.status.approval;
    approval.lapsedReason = `The plan changed in Azure after approval (${old.fingerprint.slice(0, 8)} → ${fresh.fingerprint.slice(0, 8)}); the earlier approval lapsed. Review the new plan.`;
    this.approvedFingerprint = undefined;
    this.run.setApprovalState('lapsed');
  }

  private async wait(plan: Plan): Promise<GateOutcome> {
    const run = this.run;
    const deadlineMs = parseDurationMs(run.context.policy.deadline, 'policy.deadline');
    const deadlineAt = Date.now() + deadlineMs;
    run.setPlan(plan);
    const approval = run.status.approval;
    approval.decisions = [];
    approval.deadline = new Date(deadlineAt).toISOString();
    // Decisions can arrive as soon as the state is pending, even while the card is being posted.
    let seen = this.changes;
    run.setApprovalState('pending');
    setCurrentDetails(
      `Waiting for ${approval.quorum} approval(s) of **${OPERATION_TITLES[run.operation]}** until ${approval.deadline}.\n\n${planMarkdown(plan)}`,
    );
    await run.setStage('awaiting-approval');
    for (;;) {
      const remaining = deadlineAt - Date.now();
      // A decision may have arrived while the card was being updated: look before waiting.
      const changed =
        this.changes !== seen || (remaining > 0 && (await condition(() => this.changes !== seen, remaining)));
      seen = this.changes;
      if (!changed) {
        run.setApprovalState('expired');
        setCurrentDetails('');
        return {
          outcome: 'expired',
          plan,
          message: `No decision within ${run.context.policy.deadline}; nothing was changed. Start again to ask anew.`,
        };
      }
      const rejection = approval.decisions.find((d) => d.verdict === 'reject');
      if (rejection) {
        setCurrentDetails('');
        const why = rejection.comment ? `: ${rejection.comment}` : '.';
        return {
          outcome: 'rejected',
          plan,
          message: `Rejected by ${rejection.approverName}${why} Nothing was changed.`,
        };
      }
      if (approval.state === 'approved') {
        this.approvedFingerprint = plan.fingerprint;
        setCurrentDetails('');
        return { outcome: 'approved', plan };
      }
      await run.publish();
    }
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

  /**
   * The operation whose approvers, quorum and roles govern a plan: the plan's own approval
   * operation when it names one (a configure that is really a key change), else the run's.
   */
  policyOperation(plan?: Plan): Operation {
    return plan?.approvalOperation ?? this.run.operation;
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
    else if (quorumMet(run, approval.decisions)) run.setApprovalState('approved');
    this.changes++;
    return run.status;
  }
}

/** Quorum: enough approvals, and at least one from every role the policy names for the operation. */
function quorumMet(run: Run, decisions: Decision[]): boolean {
  const approvals = decisions.filter((d) => d.verdict === 'approve').map((d) => d.approverAadId);
  if (approvals.length < quorumFor(run.context.policy, run.operation)) return false;
  const roles = run.context.policy.roles?.[run.operation] ?? [];
  return roles.every((role) => role.approvers.some((id) => approvals.includes(id.toLowerCase())));
}

/** The message of a plan that cannot go ahead: each blocker with its fix. */
export function blockedMessage(plan: Plan): string {
  return `Nothing was changed: ${plan.blockers.map((b) => `${b.message} ${b.fix}`).join(' ')}`;
}
