/**
 * Adaptive Card 1.5 templates (the JSON files beside this one), parsed once and expanded
 * with `adaptivecards-templating`. Every card the bot or the worker shows comes from here.
 */
import { Template } from 'adaptivecards-templating';
import type { RunStatus } from '../../shared/approval';
import { COMMAND_FORMS } from '../commands';
import errorTemplate from './error.json';
import helpTemplate from './help.json';
import runTemplate from './run.json';
import runsTemplate from './runs.json';
import { escapeMarkup } from './markup';
import { runCardData, type Viewer } from './run-view';
import type { ReaderContext } from './approval-view';

export { escapeMarkup } from './markup';

/** An Adaptive Card as plain JSON. */
export type AdaptiveCardJson = Record<string, unknown> & { type: 'AdaptiveCard'; version: string };

/** Teams refuses messages much above this; cards stay well under it. */
export const MAX_CARD_BYTES = 28 * 1024;

const templates = {
  run: new Template(runTemplate),
  error: new Template(errorTemplate),
  help: new Template(helpTemplate),
  runs: new Template(runsTemplate),
};

function expand(template: Template, data: object): AdaptiveCardJson {
  const card = template.expand({ $root: data }) as Record<string, unknown>;
  for (const [key, value] of Object.entries(card)) {
    if (value === null || value === undefined) delete card[key];
  }
  return card as AdaptiveCardJson;
}

/** Who the run card is drawn for: whose clients refresh it, and what the reader's context is. */
export interface RunCardContext extends ReaderContext {
  /**
   * Teams user ids whose clients refresh the card to their own view while approval is pending
   * (default: nobody), or `everyone`: every member's client (Teams does so in chats of 60 or fewer).
   */
  refreshFor?: string[] | 'everyone';
}

/** The run card: plan preview, approvals, stage, outcome and the Temporal UI link. */
export function renderRunCard(
  status: RunStatus,
  viewer: Viewer = { canDecide: false },
  context: RunCardContext = {},
): AdaptiveCardJson {
  const refreshFor = context.refreshFor ?? [];
  const card = expand(templates.run, {
    ...runCardData(status, viewer, context),
    approverUserIds: refreshFor === 'everyone' ? [] : refreshFor,
  });
  // Left out, `userIds` means every member: Teams' own fallback when the approvers cannot be named.
  const refresh = card.refresh as { userIds?: string[] } | undefined;
  if (refresh && refreshFor === 'everyone') delete refresh.userIds;
  return card;
}

/** What went wrong with a command, in words, plus the right form and optional choices or link. */
export interface ErrorCardInput {
  title?: string;
  problem: string;
  /** The right form of the command (one line per form). */
  usage?: string;
  /** E.g. the resource ids of an ambiguous account name. */
  choices?: string[];
  link?: { title: string; url: string };
}

/** The card answering a malformed or refused command; every line is shown exactly as written. */
export function renderErrorCard(input: ErrorCardInput): AdaptiveCardJson {
  const usage = (input.usage ?? '').split('\n').filter(Boolean);
  const choices = input.choices ?? [];
  return expand(templates.error, {
    title: input.title ?? 'That did not work',
    problem: escapeMarkup(input.problem),
    fallback: input.problem,
    hasUsage: usage.length > 0,
    usage: usage.map((line) => ({ line: escapeMarkup(line) })),
    hasChoices: choices.length > 0,
    choices: choices.map((line) => ({ line: escapeMarkup(line) })),
    hasLink: Boolean(input.link),
    linkTitle: input.link?.title ?? '',
    linkUrl: input.link?.url ?? '',
  });
}

/** What `<account>` in the forms stands for (the help card's last line). */
export const ACCOUNT_NOTE =
  '<account> is a storage account name in the configured subscriptions or its resource id.';

/** The help card listing every command and its form; every line shown as written. */
export function renderHelpCard(): AdaptiveCardJson {
  return expand(templates.help, {
    commands: COMMAND_FORMS.map((c) => ({
      usage: escapeMarkup(c.usage),
      description: escapeMarkup(c.description),
    })),
    accountNote: escapeMarkup(ACCOUNT_NOTE),
  });
}

/** One line of the runs list. */
export interface RunListItem {
  summary: string;
  /** Status, stage and start time in words. */
  detail: string;
  uiUrl: string;
}

/** The recent-runs card, each run with its Temporal UI link. */
export function renderRunsCard(runs: RunListItem[], title = 'Recent runs'): AdaptiveCardJson {
  return expand(templates.runs, { title, empty: runs.length === 0, runs });
}

/** Size of a card as Teams counts it (UTF-8 JSON is a fair upper bound for our ASCII-heavy cards). */
export function cardBytes(card: object): number {
  return Buffer.byteLength(JSON.stringify(card), 'utf8');
}
