/**
 * The card `plan <operation> <account>` answers with: the run card's plan (before and after,
 * steps, blockers, notes, who else it touches) marked as a plan only, with what running it
 * would need and what to type to run it; or why no plan could be made.
 */
import type { AccountRef } from '../../shared/accounts';
import type { RunStatus } from '../../shared/approval';
import type { PlanPreview, PlannableOperation } from '../../shared/preview';
import { OPERATION_TITLES } from '../../shared/runbooks';
import { describeEncryption } from '../../shared/status';
import { escapeMarkup, renderErrorCard, renderRunCard, type AdaptiveCardJson } from './render';

/** What the preview was asked for. */
export interface PreviewRequest {
  operation: PlannableOperation;
  account: AccountRef;
  requester: { aadObjectId: string; name: string };
  /** The command without "plan", as the person would type it to run it. */
  typed: string;
}

/** The preview card. */
export function renderPlanPreviewCard(preview: PlanPreview, request: PreviewRequest): AdaptiveCardJson {
  if (preview.refusal) return renderErrorCard({ title: 'Not allowed', problem: preview.refusal.message });
  const plan = preview.plan;
  if (!plan || preview.failure) {
    return renderErrorCard({
      title: 'I could not plan that',
      problem: preview.failure?.message ?? 'The preview returned no plan.',
    });
  }
  const title = OPERATION_TITLES[request.operation];
  const approval = preview.approval;
  const needs = !approval?.required
    ? 'Running it needs no approval.'
    : `Running it needs ${approval.quorum} approval(s) for ${OPERATION_TITLES[approval.operation]} from ${approval.approvers.length} approver(s).`;
  const status: RunStatus = {
    workflowId: '',
    runId: '',
    operation: request.operation,
    account: request.account,
    requester: request.requester,
    stage: 'preflight',
    summary: `Plan only: nothing was started and ${request.account.name} is not locked. ${describeEncryption(plan.before)} → ${describeEncryption(plan.after)}.`,
    plan,
    approval: { state: 'not-required', quorum: approval?.quorum ?? 0, approvers: [], decisions: [] },
    steps: [],
  };
  const blocked = plan.blockers.length > 0;
  return renderRunCard(status, {
    canDecide: false,
    stageLabel: blocked ? 'Plan only · would be blocked' : 'Plan only · not started',
    note: escapeMarkup(
      `${blocked ? 'Fix the blockers first. ' : ''}${needs} To run ${title.toLowerCase()}, type: ${request.typed}`,
    ),
  });
}
