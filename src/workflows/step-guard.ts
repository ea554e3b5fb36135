/**
 * Re-checks Azure before every destructive step of an approved run, not once per run: a
 * configure's grant can wait minutes before its enable, and a revoke removes access before it
 * disables the key. The run's own earlier steps are excused (they were approved); any other
 * change lapses the approval and asks again on the new plan.
 */
import { STEP_EFFECTS, type Plan, type PlanFacet, type StepId } from '../shared/plan';
import type { RunOutcome } from '../shared/runbooks';
import type { ApprovalGate, GateOutcome } from './approval-gate';
import type { Run } from './run';

/**
 * Thrown inside a runbook's change when a lapsed approval was not given again (rejected,
 * expired, or Azure kept changing): the run ends with that outcome before the step.
 */
export class StepNotApproved extends Error {
  override readonly name = 'StepNotApproved';
  constructor(
    readonly outcome: Exclude<RunOutcome, 'succeeded' | 'pending' | 'invalid' | 'failed'>,
    message: string,
    readonly plan: Plan,
  ) {
    super(message);
  }
}

/** One per run, handed to the runbook's change. */
export class StepGuard {
  private readonly excused = new Set<PlanFacet>();
  private dirty = false;

  constructor(
    private readonly gate: ApprovalGate,
    private readonly run: Run,
    private readonly inspect: () => Promise<Plan>,
    private plan: Plan,
  ) {}

  /** Whether this run follows the destructive-by-effect rules (false when replaying older runs). */
  get byEffect(): boolean {
    return this.gate.byEffect;
  }

  /** The plan the steps go by: the approved one, or the one approved after a lapse. */
  get current(): Plan {
    return this.plan;
  }

  /** Records that `step` ran; when it changed Azure, what it changes is excused at later re-checks. */
  ran(step: StepId, changed: boolean): void {
    this.dirty = true;
    if (changed) for (const facet of STEP_EFFECTS[step] ?? []) this.excused.add(facet);
  }

  /**
   * Before a step: when the current plan marks it destructive or irreversible and other steps ran
   * since the last check, re-reads Azure and lapses the approval on any unexcused change.
   * Returns the plan to go on with; throws {@link StepNotApproved} when the run must stop.
   */
  async before(step: StepId): Promise<Plan> {
    const planned = this.plan.steps.find((s) => s.id === step);
    const risky = !!planned && !planned.skip && (planned.destructive || planned.irreversible);
    if (!this.gate.byEffect || !this.gate.approved || !risky || !this.dirty) return this.plan;
    const approvals = this.gate.approvals;
    return this.settle(
      await this.gate.confirmCurrent(this.plan, this.inspect, this.excused),
      step,
      approvals,
    );
  }

  /** Azure refused the approved step because it changed: asks again with `reason`, then goes on. */
  async refused(step: StepId, reason: string): Promise<Plan> {
    const approvals = this.gate.approvals;
    return this.settle(await this.gate.reapprove(reason, this.inspect), step, approvals);
  }

  private settle(outcome: GateOutcome, step: StepId, approvalsBefore: number): Plan {
    if (outcome.outcome === 'approved' || outcome.outcome === 'not-required') {
      // A new approval was given on a plan that already shows the run's own changes.
      if (this.gate.approvals !== approvalsBefore) this.excused.clear();
      this.plan = outcome.plan;
      this.dirty = false;
      this.run.setPlan(outcome.plan);
      return outcome.plan;
    }
    const title = this.plan.steps.find((s) => s.id === step)?.title ?? step;
    const done = this.run.status.steps
      .filter((s) => s.status === 'done' && s.id !== 'preflight' && s.id !== 'approval')
      .map((s) => s.title);
    const stopped = done.length
      ? ` The run stopped before "${title}"; what it did before stays in Azure (${done.join(', ')}).`
      : '';
    throw new StepNotApproved(outcome.outcome, `${outcome.message}${stopped}`, outcome.plan);
  }
}
