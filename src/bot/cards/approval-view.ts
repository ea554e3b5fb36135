/**
 * The approval part of a run card in words: who may decide (by name where Teams told us), how
 * many have, who decided what, and until when — in the reader's time zone.
 */
import type { Decision, RunStatus } from '../../shared/approval';
import { localTime, relativeTime, spanInWords } from './time';

/** What the card knows beyond the run's status: names Teams gave, and who reads it when. */
export interface ReaderContext {
  /** Display names by lowercase Entra object id. */
  names?: Record<string, string>;
  /** The reader's IANA time zone; without it, times are left to the reader's Teams client. */
  timeZone?: string;
  /** The reader's now, for relative times (default: now). */
  nowMs?: number;
}

/**
 * A person by name: the one recorded, else the one Teams gave, else `unknown` (never a bare
 * object id alone, which no reader can place).
 */
export function personName(
  aadObjectId: string,
  recorded: string | undefined,
  names: Record<string, string> = {},
  unknown = 'an approver',
): string {
  return recorded || names[aadObjectId.toLowerCase()] || unknown;
}

/** The approval line: state, count and who may still decide. */
export function approvalLine(status: RunStatus, reader: ReaderContext = {}): string {
  const a = status.approval;
  const approvals = a.decisions.filter((d) => d.verdict === 'approve').length;
  switch (a.state) {
    case 'pending':
      return `Approvals: ${approvals} of ${a.quorum}${approversClause(status, reader.names ?? {})}`;
    case 'approved':
      return `Approved (${approvals} of ${a.quorum})`;
    case 'rejected':
      return 'Rejected';
    case 'expired':
      return 'The approval expired before enough approvers agreed';
    case 'lapsed':
      return `The earlier approval lapsed${a.lapsedReason ? `: ${a.lapsedReason}` : ''}`;
    case 'cancelled':
      return `Withdrawn before a decision${approvals ? ` (${approvals} of ${a.quorum} had approved)` : ''}`;
    case 'not-required':
      return '';
  }
}

/** " · from Megan Bowen, Lee Gu or 1 other": the approvers who have not decided yet. */
function approversClause(status: RunStatus, names: Record<string, string>): string {
  const decided = new Set(status.approval.decisions.map((d) => d.approverAadId.toLowerCase()));
  const open = status.approval.approvers.filter((id) => !decided.has(id.toLowerCase()));
  if (open.length === 0) return '';
  const named = open.map((id) => names[id.toLowerCase()]).filter((n): n is string => Boolean(n));
  const others = open.length - named.length;
  if (named.length === 0) return ` · from any of ${open.length} approver${open.length === 1 ? '' : 's'}`;
  const rest = others ? ` or ${others} other${others === 1 ? '' : 's'}` : '';
  return ` · from ${named.join(', ')}${rest}`;
}

/**
 * Until when approvers may decide: in the reader's zone with how long is left, or (for a card
 * everyone sees) local to each reader through Adaptive Cards' DATE/TIME, with the window's length.
 */
export function deadlineLine(status: RunStatus, reader: ReaderContext = {}): string {
  const { deadline, openedAt } = status.approval;
  if (status.approval.state !== 'pending' || !deadline) return '';
  const at = localTime(deadline, reader.timeZone);
  if (reader.timeZone) return `Decide by ${at} (${relativeTime(deadline, reader.nowMs)})`;
  const window = openedAt
    ? ` (${spanInWords(Date.parse(deadline) - Date.parse(openedAt))} from the request)`
    : '';
  return `Decide by ${at}${window}`;
}

/** One decision in words: "✅ Megan Bowen approved: looks right". */
export function decisionLine(decision: Decision, names: Record<string, string> = {}): string {
  const who = personName(decision.approverAadId, decision.approverName, names);
  const verb = decision.verdict === 'approve' ? 'approved' : 'rejected';
  return `${decision.verdict === 'approve' ? '✅' : '🚫'} ${who} ${verb}${decision.comment ? `: ${decision.comment}` : ''}`;
}
