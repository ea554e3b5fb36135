/**
 * Turns a run's status into the flat strings and flags the run card template binds to, so
 * the template stays declarative and every wording decision lives in one place.
 */
import { accountId } from '../../shared/accounts';
import type { RunStatus, Stage } from '../../shared/approval';
import type { EncryptionSettings, Plan } from '../../shared/plan';
import { OPERATION_TITLES, type RunOutcome } from '../../shared/runbooks';
import { OUTCOME_LABELS } from '../../shared/status';
import { approvalLine, deadlineLine, decisionLine, personName, type ReaderContext } from './approval-view';
import { escapeMarkup } from './markup';

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
  hasDeadline: boolean;
  deadlineLine: string;
  hasApprovalsRequest: boolean;
  approvalsRequestLine: string;
  approvalsRequestTitle: string;
  approvalsRequestUrl: string;
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

/** Each stage in words. */
export const STAGE_LABELS: Record<Stage, string> = {
  preflight: 'Checking the account',
  'awaiting-approval': 'Waiting for approval',
  running: 'Making changes',
  confirming: 'Confirming the change took effect',
  compensating: 'Undoing a partial change',
  done: 'Finished',
};

/** Outcomes that end a run before it changed anything: its "After" is its "Before". */
const NOTHING_CHANGED: ReadonlySet<RunOutcome> = new Set<RunOutcome>([
  'rejected',
  'expired',
  'blocked',
  'cancelled',
  'invalid',
]);

const OUTCOME_STYLES: Record<RunOutcome, RunCardData['outcomeStyle']> = {
  succeeded: 'good',
  rejected: 'attention',
  expired: 'warning',
  blocked: 'attention',
  cancelled: 'warning',
  invalid: 'attention',
  failed: 'attention',
  pending: 'emphasis',
};

/** Builds the run card's data for one viewer (everyone gets `canDecide: false`) and reader. */
export function runCardData(
  status: RunStatus,
  viewer: Viewer = { canDecide: false },
  reader: ReaderContext = {},
): RunCardData {
  const plan = status.plan ?? status.result?.plan;
  // A withdrawn or rejected run shows it at once, before the runbook has written its result: the
  // card answering the click that ended it must not say less than the edit the run makes next.
  const ending = endingOf(status);
  const outcome: RunOutcome | undefined = status.result?.outcome ?? ending?.outcome;
  const pending = status.approval.state === 'pending' && !status.result && !status.cancelled;
  const note = viewer.note ?? '';
  return {
    ...headerOf(status, viewer, reader, ending),
    workflowId: status.workflowId,
    runId: status.runId,
    fingerprint: plan?.fingerprint ?? '',
    ...outcomeOf(status, ending, outcome),
    ...marksOf(status, plan),
    ...factsOf(status, plan, outcome),
    ...stepsOf(status, plan),
    ...problemsOf(plan),
    ...blastOf(plan),
    ...fleetOf(status),
    ...approvalOf(status, reader),
    pending,
    canDecide: pending && viewer.canDecide,
    hasNote: note.length > 0,
    note: text(note),
    hasUiUrl: Boolean(status.uiUrl),
    uiUrl: status.uiUrl ?? '',
  };
}

/** How a run that is ending without a result yet ends, and the words its result will use. */
type Ending = { outcome: RunOutcome; message: string };

/** The card's head: what runs on which account, for whom, and where it stands. */
function headerOf(
  status: RunStatus,
  viewer: Viewer,
  reader: ReaderContext,
  ending: Ending | undefined,
): Pick<RunCardData, 'title' | 'summary' | 'accountId' | 'requester' | 'stageLabel'> {
  const { requester } = status;
  return {
    title: text(`${OPERATION_TITLES[status.operation]} · ${status.subject?.label ?? status.account.name}`),
    summary: text(status.summary),
    accountId: text(status.subject?.id ?? accountId(status.account)),
    requester: text(
      personName(
        requester.aadObjectId,
        requester.name,
        reader.names ?? {},
        `someone unnamed (Entra object id ${requester.aadObjectId})`,
      ),
    ),
    // Withdrawn, the run is ending: it no longer waits for anyone, whatever its last stage was.
    stageLabel:
      viewer.stageLabel ??
      (!status.result && ending ? `Ending: ${ending.outcome}` : (STAGE_LABELS[status.stage] ?? status.stage)),
  };
}

/** The outcome banner: the result's, or the ending's while the result is not written yet. */
function outcomeOf(
  status: RunStatus,
  ending: Ending | undefined,
  outcome: RunOutcome | undefined,
): Pick<RunCardData, 'hasOutcome' | 'outcomeTitle' | 'outcomeMessage' | 'outcomeStyle'> {
  return {
    hasOutcome: outcome !== undefined,
    outcomeTitle: outcome ? OUTCOME_LABELS[outcome] : '',
    outcomeMessage: text(status.result?.message ?? ending?.message ?? ''),
    outcomeStyle: outcome ? OUTCOME_STYLES[outcome] : 'emphasis',
  };
}

/** The plan's warning marks (destructive, irreversible), shown until the run has a result. */
function marksOf(status: RunStatus, plan: Plan | undefined): Pick<RunCardData, 'hasMarks' | 'marksText'> {
  const irreversible = plan?.irreversible ?? [];
  const marksText = [
    plan?.destructive ? '⚠️ This plan removes access or changes encryption in a way users notice.' : '',
    irreversible.length ? `🔒 Cannot be undone: ${irreversible.join('; ')}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return { hasMarks: marksText.length > 0 && !status.result, marksText: text(marksText) };
}

/** Before and after: the plan's facts, with "unchanged" after a run that ended before any change. */
function factsOf(
  status: RunStatus,
  plan: Plan | undefined,
  outcome: RunOutcome | undefined,
): Pick<RunCardData, 'hasPlan' | 'before' | 'after'> {
  if (!plan) return { hasPlan: false, before: [], after: [] };
  const access = accessFacts(plan, outcome);
  const unchanged = outcome !== undefined && NOTHING_CHANGED.has(outcome);
  return {
    hasPlan: true,
    before: [...(plan.facts?.before ?? encryptionFacts(plan.before)), ...access.before],
    after: unchanged
      ? [...encryptionFacts(plan.before).slice(0, 1).map(asUnchanged), ...access.after]
      : [...(plan.facts?.after ?? encryptionFacts(status.result?.encryption ?? plan.after)), ...access.after],
  };
}

/** The plan's steps, each with how it went so far and what marks it (destructive, irreversible, done). */
function stepsOf(status: RunStatus, plan: Plan | undefined): Pick<RunCardData, 'hasSteps' | 'steps'> {
  const steps = (plan?.steps ?? []).map((step) => {
    const done = status.steps.find((s) => s.id === step.id);
    const marks = [
      step.destructive ? '⚠️ destructive' : '',
      step.irreversible ? '🔒 irreversible' : '',
      step.skip && !done ? 'already done' : '',
    ].filter(Boolean);
    const icon = done ? STEP_ICONS[done.status] : '•';
    const detail = done?.detail ? ` — ${done.detail}` : '';
    return { line: text(`${icon} ${step.title}${marks.length ? ` (${marks.join(', ')})` : ''}${detail}`) };
  });
  return { hasSteps: steps.length > 0, steps };
}

/** What stops the plan (each with its fix) and what it warns about. */
function problemsOf(
  plan: Plan | undefined,
): Pick<RunCardData, 'hasBlockers' | 'blockers' | 'hasWarnings' | 'warnings'> {
  return {
    hasBlockers: (plan?.blockers.length ?? 0) > 0,
    blockers: plan?.blockers.map((b) => ({ message: text(b.message), fix: text(b.fix) })) ?? [],
    hasWarnings: (plan?.warnings.length ?? 0) > 0,
    warnings: plan?.warnings.map((w) => ({ text: text(w) })) ?? [],
  };
}

/** The approval section: where it stands, its deadline, where approvers were asked, the decisions so far. */
function approvalOf(
  status: RunStatus,
  reader: ReaderContext,
): Pick<
  RunCardData,
  | 'hasApproval'
  | 'approvalLine'
  | 'hasDeadline'
  | 'deadlineLine'
  | 'hasApprovalsRequest'
  | 'approvalsRequestLine'
  | 'approvalsRequestTitle'
  | 'approvalsRequestUrl'
  | 'decisions'
> {
  const { approval, approvalsRequest: asked } = status;
  const deadline = deadlineLine(status, reader);
  const names = reader.names ?? {};
  return {
    hasApproval: approval.state !== 'not-required',
    approvalLine: text(approvalLine(status, reader)),
    hasDeadline: deadline.length > 0,
    deadlineLine: text(deadline),
    hasApprovalsRequest: Boolean(asked) && approval.state !== 'not-required',
    approvalsRequestLine: asked ? text(`📣 The approvers were asked in ${asked.name}.`) : '',
    approvalsRequestTitle: asked ? `Open the request in ${asked.name}` : '',
    approvalsRequestUrl: asked?.url ?? '',
    decisions: approval.decisions.map((d) => ({ line: text(decisionLine(d, names)) })),
  };
}

/**
 * How a run that has no result yet is already ending: withdrawn, or rejected by an approver (the
 * same words the runbook's result will use).
 */
function endingOf(status: RunStatus): Ending | undefined {
  if (status.result) return undefined;
  if (status.cancelled) return { outcome: 'cancelled', message: `Cancelled by ${status.cancelled.by.name}.` };
  const rejection =
    status.approval.state === 'rejected'
      ? status.approval.decisions.find((d) => d.verdict === 'reject')
      : undefined;
  if (!rejection) return undefined;
  const why = rejection.comment ? `: ${rejection.comment}` : '.';
  return { outcome: 'rejected', message: `Rejected by ${rejection.approverName}${why} Nothing was changed.` };
}

/** The blast radius section: who else the change touches, or that nobody else does. */
function blastOf(plan: Plan | undefined): Pick<RunCardData, 'hasBlast' | 'blastTitle' | 'blast'> {
  const radius = plan?.blastRadius;
  if (!radius) return { hasBlast: false, blastTitle: '', blast: [] };
  const lines = radius.affected.map((a) => ({
    line: text(`${a.kind === 'encryptionScope' ? 'Encryption scope' : 'Account'} ${a.name} — ${a.why}`),
  }));
  if (radius.unchecked) lines.push({ line: text(radius.unchecked) });
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
      line: text(`${OUTCOME_ICONS[r.outcome] ?? '•'} ${r.name} — ${r.message}`),
    }));
    if (progress.rows.length < done) rows.push({ line: `… and ${done - progress.rows.length} more` });
    return {
      hasFleet: true,
      fleetTitle: `Progress: ${done} of ${progress.total} done${counts ? ` (${counts})` : ''}`,
      fleetRows: rows,
    };
  }
  if (!planned) return { hasFleet: false, fleetTitle: '', fleetRows: [] };
  const rows = planned.rows.map((r) => ({ line: text(`${r.skip ? '➖' : '•'} ${r.name} — ${r.detail}`) }));
  if (planned.rows.length < planned.total)
    rows.push({ line: `… and ${planned.total - planned.rows.length} more` });
  return {
    hasFleet: true,
    fleetTitle: `Accounts: ${planned.rotate} to rotate, ${planned.skip} skipped (of ${planned.total})`,
    fleetRows: rows,
  };
}

/** A fact of a run that ended before any change: the same as before, and saying so. */
function asUnchanged(fact: Fact): Fact {
  return { title: fact.title, value: `unchanged (${fact.value})` };
}

const STEP_ICONS = { done: '✅', skipped: '➖', failed: '❌', compensated: '↩️' } as const;

function encryptionFacts(settings: EncryptionSettings): Fact[] {
  if (settings.keySource !== 'Microsoft.Keyvault') {
    return [{ title: 'Key source', value: 'Microsoft-managed keys' }];
  }
  const facts: Fact[] = [{ title: 'Key source', value: 'Customer-managed (Key Vault)' }];
  if (settings.vaultUri) facts.push({ title: 'Vault', value: text(settings.vaultUri) });
  if (settings.keyName) facts.push({ title: 'Key', value: text(settings.keyName) });
  facts.push({
    title: 'Version',
    value: settings.keyVersion ? `pinned to ${text(settings.keyVersion)}` : 'versionless (follows rotation)',
  });
  if (settings.identity) facts.push({ title: 'Identity', value: text(identityInWords(settings.identity)) });
  return facts;
}

/**
 * A revocation changes access, not encryption: its card says who could reach the key before and
 * what is left after — planned while it waits, as it ended once it has.
 */
function accessFacts(plan: Plan, outcome: RunOutcome | undefined): { before: Fact[]; after: Fact[] } {
  if (plan.operation !== 'revoke') return { before: [], after: [] };
  const who = plan.before.identity
    ? `Its ${identityInWords(plan.before.identity)} identity`
    : "The account's identity";
  const key = plan.before.keyName ?? 'its key';
  const revokeStep = plan.steps.find((s) => s.id === 'revoke');
  const disables = plan.steps.some((s) => s.id === 'disableKey');
  const before: Fact[] = [
    {
      title: 'Key access',
      value: revokeStep?.skip
        ? `${who} has no grant left on ${key}`
        : `${who} can wrap and unwrap with ${key}`,
    },
  ];
  if (outcome && outcome !== 'succeeded') {
    return {
      before,
      after: [{ title: 'Key access', value: outcome === 'failed' ? 'see the steps below' : 'unchanged' }],
    };
  }
  const after: Fact[] = [{ title: 'Key access', value: 'removed: blob data can no longer be read' }];
  if (disables) after.push({ title: 'Key version', value: 'disabled' });
  return { before, after };
}

/** `SystemAssigned`, or a user-assigned identity by its name rather than its resource id. */
function identityInWords(identity: string): string {
  if (identity === 'SystemAssigned') return 'system-assigned';
  const name = /\/userAssignedIdentities\/([^/]+)$/i.exec(identity)?.[1];
  return name ? `user-assigned ${name}` : identity;
}

/** Text as the card shows it: Teams renders TextBlocks as markdown with HTML, so `<x>` must stay text. */
const text = escapeMarkup;
