/**
 * The `pending` card: every run waiting for the reader's decision, each with who asked, until
 * when, what it would do, and a button that opens its run card with Approve and Reject.
 */
import { Template } from 'adaptivecards-templating';
import type { RunStatus } from '../../shared/approval';
import pendingTemplate from './pending.json';
import { escapeMarkup, type AdaptiveCardJson } from './render';

const template = new Template(pendingTemplate);

/** The card listing `runs` (already filtered to those waiting on the reader). */
export function renderPendingCard(runs: RunStatus[]): AdaptiveCardJson {
  const rows = runs.map((s) => {
    const approvals = s.approval.decisions.filter((d) => d.verdict === 'approve').length;
    const plan = s.plan;
    return {
      summary: escapeMarkup(s.summary),
      detail: escapeMarkup(
        `Requested by ${s.requester.name || s.requester.aadObjectId} · ${approvals} of ${s.approval.quorum} approval(s)${s.approval.deadline ? ` · until ${s.approval.deadline}` : ''}`,
      ),
      destructive: Boolean(plan?.destructive),
      marks: '⚠️ Removes access or changes encryption in a way users notice.',
      workflowId: s.workflowId,
      runId: s.runId,
      fingerprint: plan?.fingerprint ?? '',
      hasUiUrl: Boolean(s.uiUrl),
      uiUrl: s.uiUrl ?? '',
    };
  });
  const title = runs.length ? `Waiting for your approval (${runs.length})` : 'Waiting for your approval';
  const card = template.expand({ $root: { title, empty: runs.length === 0, runs: rows } }) as Record<
    string,
    unknown
  >;
  return card as AdaptiveCardJson;
}
