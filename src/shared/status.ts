/**
 * Text the Temporal UI and chat show for a run: the one-line summary, the plan as markdown
 * and the UI link. Pure, so the bot (at start), workflows and tests render the same words.
 */
import type { AccountRef } from './accounts';
import type { EncryptionSettings, Plan } from './plan';
import { OPERATION_TITLES, type Operation, type OutcomeAttribute, type RunResult } from './runbooks';

/** What a summary may name beyond the operation and the account. */
export interface SummaryParts {
  vault?: string;
  key?: string;
  pinVersion?: boolean;
  accounts?: number;
}

/** The summary parts of a run that names a vault, a key and a version mode (configure, change key). */
export function keyChoiceParts(input: {
  vault?: { name: string };
  key?: { name: string };
  pinVersion?: boolean;
}): SummaryParts {
  return { vault: input.vault?.name, key: input.key?.name, pinVersion: input.pinVersion };
}

/** One line under 200 bytes, e.g. "Configure CMK · stcontoso · kv-contoso/cmk-key (versionless)". */
export function summaryLine(
  operation: Operation,
  account: AccountRef | undefined,
  parts: SummaryParts = {},
): string {
  const bits: string[] = [OPERATION_TITLES[operation]];
  if (account) bits.push(account.name);
  if (parts.accounts !== undefined) bits.push(`${parts.accounts} account${parts.accounts === 1 ? '' : 's'}`);
  if (parts.vault && parts.key) {
    const mode = parts.pinVersion === undefined ? '' : parts.pinVersion ? ' (pinned)' : ' (versionless)';
    bits.push(`${parts.vault}/${parts.key}${mode}`);
  }
  const line = bits.join(' · ');
  return line.length > 190 ? `${line.slice(0, 189)}…` : line;
}

/** Each outcome as a person reads it in a list or on a card, with its mark. */
export const OUTCOME_LABELS: Record<OutcomeAttribute, string> = {
  succeeded: '✅ Succeeded',
  rejected: '🚫 Rejected',
  expired: '⌛ Approval expired',
  blocked: '⛔ Blocked',
  cancelled: '↩️ Cancelled',
  invalid: '⛔ Invalid request',
  failed: '❌ Failed',
  pending: '⏳ Changed, confirmation pending',
  running: '▶️ Running',
};

/** The run's details in the Temporal UI once it ended: the outcome first, then what happened. */
export function outcomeDetails(result: Pick<RunResult, 'outcome' | 'message'>): string {
  return `**${OUTCOME_LABELS[result.outcome]}** — ${result.message}`;
}

/** Encryption settings in words: "Microsoft-managed keys" or "kv/key (versionless)". */
export function describeEncryption(settings: EncryptionSettings | undefined): string {
  if (!settings || settings.keySource !== 'Microsoft.Keyvault') return 'Microsoft-managed keys';
  const vault = /^https:\/\/([^./]+)/i.exec(settings.vaultUri ?? '')?.[1] ?? '?';
  const version = settings.keyVersion ? `pinned to ${settings.keyVersion.slice(0, 8)}…` : 'versionless';
  return `${vault}/${settings.keyName ?? '?'} (${version})`;
}

/** The plan as markdown for `staticDetails` and cards: before/after, steps, blockers, warnings. */
export function planMarkdown(plan: Plan): string {
  const lines = [
    `**Before:** ${describeEncryption(plan.before)}  `,
    `**After:** ${describeEncryption(plan.after)}`,
    '',
    '**Steps**',
    ...plan.steps.map((s) => {
      const flags = [
        s.skip ? 'already done' : '',
        s.destructive ? 'destructive' : '',
        s.irreversible ? 'irreversible' : '',
      ]
        .filter(Boolean)
        .join(', ');
      return `- ${s.title}${flags ? ` _(${flags})_` : ''}`;
    }),
  ];
  if (plan.blockers.length) {
    lines.push('', '**Blocked**', ...plan.blockers.map((b) => `- ${b.message} Fix: ${b.fix}`));
  }
  if (plan.warnings.length) lines.push('', '**Notes**', ...plan.warnings.map((w) => `- ${w}`));
  lines.push('', `Plan fingerprint: \`${plan.fingerprint.slice(0, 12)}\``);
  return lines.join('\n');
}

/** Markdown for `staticDetails` at start: what is asked, by whom, on which account. No secrets. */
export function requestMarkdown(
  operation: Operation,
  account: AccountRef | undefined,
  requesterName: string,
  details: Record<string, string | number | boolean | undefined> = {},
): string {
  const lines = [`### ${OPERATION_TITLES[operation]}`, ''];
  if (account) {
    lines.push(`- **Account:** ${account.name}`, `- **Resource group:** ${account.resourceGroup}`);
    lines.push(`- **Subscription:** ${account.subscriptionId}`);
  }
  lines.push(`- **Requested by:** ${requesterName}`);
  for (const [key, value] of Object.entries(details)) {
    if (value !== undefined) lines.push(`- **${key}:** ${String(value)}`);
  }
  return lines.join('\n');
}

/** The Temporal UI page of a run. */
export function runUrl(uiBaseUrl: string, namespace: string, workflowId: string, runId: string): string {
  return `${uiBaseUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}
