/**
 * Turns a run's status into the flat strings and flags the run card template binds to, so
 * the template stays declarative and every wording decision lives in one place.
 */
import { accountId } from '../../shared/accounts';
import type { RunStatus, Stage } from '../../shared/approval';
import type { EncryptionSettings } from '../../shared/plan';
import { OPERATION_TITLES, type RunOutcome } from '../../shared/runbooks';

/** Who is looking at the card, which decides whether Approve/Reject are shown. */
export interface Viewer {
  /** The viewer may decide now (an approver who has not decided on a pending approval). */
  canDecide: boolean;
  /** A line shown under the card for this viewer only, e.g. why they cannot approve. */
  note?: string;
  /** Replaces the stage line, e.g. for a plan preview that is not a run. */
  stageLabel?: string;
}

/** The data the run card template expects. */
export interface RunCardData {
  title: string;
  summary: string;
  accountId: string;
  requester: string;
  stageLabel: string;
  workflowId: string;
  runId: string;
  fingerprint: string;
  hasOutcome: boolean;
  outcomeTitle: string;
  outcomeMessage: string;
  outcomeStyle: 'good' | 'attention' | 'warning' | 'emphasis';
  hasMarks: boolean;
  marksText: string;
  hasPlan: boolean;
  before: Fact[];
  after: Fact[];
  hasSteps: boolean;
  steps: { line: string }[];
  hasBlockers: boolean;
  blockers: { message: string; fix: string }[];
  hasWarnings: boolean;
  warnings: { text: string }[];
  hasBlast: boolean;
  blastTitle: string;
  blast: { line: string }[];
  hasFleet: boolean;
  fleetTitle: string;
  fleetRows: { line: string }[];
  hasApproval: boolean;
  approvalLine: string;
  decisions: { line: string }[];
  pending: boolean;
  canDecide: boolean;
  hasNote: boolean;
  note: string;
  hasUiUrl: boolean;
  uiUrl: string;
}

interface Fact {
  title: string;
  value: string;
}

const STAGE_LABELS: Record<Stage, string> = {
  preflight: 'Checking the account',
  'awaiting-approval': 'Waiting for approval',
  running: 'Making changes',
  confirming: 'Confirming the change took effect',
  compensating: 'Undoing a partial change',
  done: 'Finished',
};

const OUTCOMES: Record<RunOutcome, { title: string; style: RunCardData['outcomeStyle'] }> = {
  succeeded: { title: '✅ Succeeded', style: 'good' },
  rejected: { title: '🚫 Rejected', style: 'attention' },
  expired: { title: '⌛ Approval expired', style: 'warning' },
  blocked: { title: '⛔ Blocked', style: 'attention' },
  invalid: { title: '⛔ Invalid request', style: 'attention' },
  failed: { title: '❌ Failed', style: 'attention' },
  pending: { title: '⏳ Pending', style: 'emphasis' },
};

/** Builds the run card's data for one viewer (everyone gets `canDecide: false`). */
export function runCardData(status: RunStatus, viewer: Viewer = { canDecide: false }): RunCardData {
  const plan = status.plan ?? status.result?.plan;
  const approval = status.approval;
  const pending = approval.state === 'pending' && !status.result;
  const steps = (plan?.steps ?? []).map((step) => {
    const done = status.steps.find((s) => s.id === step.id);
    const marks = [
      step.destructive ? '⚠️ destructive' : '',
      step.irreversible ? '🔒 irreversible' : '',
      step.skip ? 'already done' : '',
    ].filter(Boolean);
    const icon = done ? STEP_ICONS[done.status] : '•';
    const detail = done?.detail ? ` — ${done.detail}` : '';
    return { line: `${icon} ${step.title}${marks.length ? ` (${marks.join(', ')})` : ''}${detail}` };
  });
  const irreversible = plan?.irreversible ?? [];
  const marksText = [
    plan?.destructive ? '⚠️ This plan removes access or changes encryption in a way users notice.' : '',
    irreversible.length ? `🔒 Cannot be undone: ${irreversible.join('; ')}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const outcome = status.result ? OUTCOMES[status.result.outcome] : undefined;
  const note = viewer.note ?? '';
  return {
    title: `${OPERATION_TITLES[status.operation]} · ${status.subject?.label ?? status.account.name}`,
    summary: status.summary,
    accountId: status.subject?.id ?? accountId(status.account),
    requester: status.requester.name || status.requester.aadObjectId,
    stageLabel: viewer.stageLabel ?? STAGE_LABELS[status.stage] ?? status.stage,
    workflowId: status.workflowId,
    runId: status.runId,
    fingerprint: plan?.fingerprint ?? '',
    hasOutcome: Boolean(outcome),
    outcomeTitle: outcome?.title ?? '',
    outcomeMessage: status.result?.message ?? '',
    outcomeStyle: outcome?.style ?? 'emphasis',
    hasMarks: marksText.length > 0 && !status.result,
    marksText,
    hasPlan: Boolean(plan),
    before: plan ? (plan.facts?.before ?? encryptionFacts(plan.before)) : [],
    after: plan ? (plan.facts?.after ?? encryptionFacts(status.result?.encryption ?? plan.after)) : [],
    hasSteps: steps.length > 0,
    steps,
    hasBlockers: (plan?.blockers.length ?? 0) > 0,
    blockers: plan?.blockers.map((b) => ({ message: b.message, fix: b.fix })) ?? [],
    hasWarnings: (plan?.warnings.length ?? 0) > 0,
    warnings: plan?.warnings.map((text) => ({ text })) ?? [],
    ...blastOf(plan),
    ...fleetOf(status),
    hasApproval: approval.state !== 'not-required',
    approvalLine: approvalLine(status),
    decisions: approval.decisions.map((d) => ({
      line: `${d.verdict === 'approve' ? '✅' : '🚫'} ${d.approverName || d.approverAadId} ${d.verdict === 'approve' ? 'approved' : 'rejected'}${d.comment ? `: ${d.comment}` : ''}`,
    })),
    pending,
    canDecide: pending && viewer.canDecide,
    hasNote: note.length > 0,
    note,
    hasUiUrl: Boolean(status.uiUrl),
    uiUrl: status.uiUrl ?? '',
  };
}

/** The blast radius section: who else the change touches, or that nobody else does. */
function blastOf(plan: RunStatus['plan']): Pick<RunCardData, 'hasBlast' | 'blastTitle' | 'blast'> {
  const radius = plan?.blastRadius;
  if (!radius) return { hasBlast: false, blastTitle: '', blast: [] };
  const lines = radius.affected.map((a) => ({
    line: `${a.kind === 'encryptionScope' ? 'Encryption scope' : 'Account'} ${a.name} — ${a.why}`,
  }));
  if (radius.unchecked) lines.push({ line: radius.unchecked });
  return {
    hasBlast: true,
    blastTitle: radius.affected.length
      ? `Also affected (${radius.affected.length})`
      : 'Also affected: no other account or encryption scope in the configured subscriptions',
    blast: lines,
  };
}

const OUTCOME_ICONS: Record<string, string> = {
  succeeded: '✅',
  failed: '❌',
  blocked: '⛔',
  invalid: '⛔',
  rejected: '🚫',
  expired: '⌛',
  pending: '⏳',
};

/** A fleet's accounts: the plan's list before it runs, its progress and outcomes after. */
function fleetOf(status: RunStatus): Pick<RunCardData, 'hasFleet' | 'fleetTitle' | 'fleetRows'> {
  const progress = status.fleet;
  const planned = (status.plan ?? status.result?.plan)?.fleet;
  if (progress) {
    const done = Object.values(progress.counts).reduce((n, c) => n + c, 0);
    const counts = Object.entries(progress.counts)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    const rows = progress.rows.map((r) => ({
      line: `${OUTCOME_ICONS[r.outcome] ?? '•'} ${r.name} — ${r.message}`,
    }));
    if (progress.rows.length < done) rows.push({ line: `… and ${done - progress.rows.length} more` });
    return {
      hasFleet: true,
      fleetTitle: `Progress: ${done} of ${progress.total} done${counts ? ` (${counts})` : ''}`,
      fleetRows: rows,
    };
  }
  if (!planned) return { hasFleet: false, fleetTitle: '', fleetRows: [] };
  const rows = planned.rows.map((r) => ({ line: `${r.skip ? '➖' : '•'} ${r.name} — ${r.detail}` }));
  if (planned.rows.length < planned.total)
    rows.push({ line: `… and ${planned.total - planned.rows.length} more` });
  return {
    hasFleet: true,
    fleetTitle: `Accounts: ${planned.rotate} to rotate, ${planned.skip} skipped (of ${planned.total})`,
    fleetRows: rows,
  };
}

const STEP_ICONS = { done: '✅', skipped: '➖', failed: '❌', compensated: '↩️' } as const;

function approvalLine(status: RunStatus): string {
  const a = status.approval;
  const approvals = a.decisions.filter((d) => d.verdict === 'approve').length;
  switch (a.state) {
    case 'pending':
      return `Approvals: ${approvals} of ${a.quorum}${a.deadline ? ` · until ${a.deadline}` : ''}`;
    case 'approved':
      return `Approved (${approvals} of ${a.quorum})`;
    case 'rejected':
      return 'Rejected';
    case 'expired':
      return 'The approval expired before enough approvers agreed';
    case 'lapsed':
      return `The earlier approval lapsed${a.lapsedReason ? `: ${a.lapsedReason}` : ''}`;
    case 'not-required':
      return '';
  }
}

function encryptionFacts(settings: EncryptionSettings): Fact[] {
  if (settings.keySource !== 'Microsoft.Keyvault') {
    return [{ title: 'Key source', value: 'Microsoft-managed keys' }];
  }
  const facts: Fact[] = [{ title: 'Key source', value: 'Customer-managed (Key Vault)' }];
  if (settings.vaultUri) facts.push({ title: 'Vault', value: settings.vaultUri });
  if (settings.keyName) facts.push({ title: 'Key', value: settings.keyName });
  facts.push({
    title: 'Version',
    value: settings.keyVersion ? `pinned to ${settings.keyVersion}` : 'versionless (follows rotation)',
  });
  if (settings.identity) facts.push({ title: 'Identity', value: settings.identity });
  return facts;
}
