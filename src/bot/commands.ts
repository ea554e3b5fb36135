/**
 * The chat command language, parsed without side effects: text → {@link Command} or a
 * {@link ParseError} that names the exact problem and shows the right form. The commands
 * themselves are the table in `command-rules.ts`; this file only applies it.
 */
import { ValidationError } from '../shared/names';
import { COMMAND_RULES, PLANNABLE_WORDS, type CommandRule, type Options } from './command-rules';
import { CommandNotUnderstood, type Command, type ParseError, type ParseProblem } from './command-types';

export type {
  AccountArg,
  Command,
  FleetSelector,
  KeyArgs,
  ParseError,
  RunCommand,
  VersionTarget,
} from './command-types';

/** Every command word with its form and a one-line description (help card, manifest). */
export const COMMAND_FORMS: readonly { word: string; usage: string; description: string }[] =
  COMMAND_RULES.map(({ word, usage, description }) => ({ word, usage, description }));

/** Default vault name for an account: `kv-<account>`, cut to Key Vault's 24 characters. */
export function defaultVaultName(account: string): string {
  return `kv-${account}`.slice(0, 24);
}

/** Default key name for customer-managed keys. */
export const DEFAULT_KEY_NAME = 'cmk-key';

/** Usage line of a command word. */
export function usageOf(word: string): string {
  return COMMAND_RULES.find((c) => c.word === word)?.usage ?? 'help';
}

/** The command word of each command kind. */
const WORDS: Record<Command['kind'], string> = {
  help: 'help',
  configure: 'configure',
  rotate: 'rotate',
  changeKey: 'change-key',
  updateVersion: 'update-version',
  revoke: 'revoke',
  restoreAccess: 'restore-access',
  disable: 'disable',
  setRotationPolicy: 'set-rotation-policy',
  rotateFleet: 'rotate-fleet',
  plan: 'plan',
  pending: 'pending',
  status: 'status',
  runs: 'runs',
  cancel: 'cancel',
  scheduleRotation: 'schedule-rotation',
  unscheduleRotation: 'unschedule-rotation',
};

/** The right form of a parsed command (`plan <its operation's form>` for a plan). */
export function usageFor(command: Command): string {
  return command.kind === 'plan'
    ? `plan ${usageOf(WORDS[command.command.kind])}`
    : usageOf(WORDS[command.kind]);
}

/** All usage lines, one per line, for "I did not understand" answers. */
function allUsages(): string {
  return COMMAND_FORMS.map((c) => c.usage).join('\n');
}

/** Parses one chat message (mentions already removed or not). Never throws. */
export function parseCommand(text: string): Command | ParseError {
  const tokens = tokenize(stripMentions(text));
  const word = tokens.shift()?.toLowerCase();
  if (!word) return error('empty', 'The message is empty.', allUsages());
  const rule = COMMAND_RULES.find((c) => c.word === word);
  if (!rule) return error('unknown-command', `"${word}" is not a command.`, allUsages());
  if (rule.nested) return parsePlan(rule, tokens);
  return attempt(rule, tokens, rule.usage);
}

/** `plan <operation> …`: the operation's own rule reads the rest; its errors show `plan <its form>`. */
function parsePlan(rule: CommandRule, tokens: string[]): Command | ParseError {
  const inner = tokens.shift()?.toLowerCase();
  const words = PLANNABLE_WORDS.join(', ');
  if (!inner) return error('missing-argument', `Which operation? One of ${words}.`, rule.usage, rule.word);
  const innerRule = COMMAND_RULES.find((c) => c.word === inner);
  if (!innerRule || !(PLANNABLE_WORDS as readonly string[]).includes(inner)) {
    return error(
      'invalid-value',
      `"${inner}" cannot be planned; plan one of ${words}.`,
      rule.usage,
      rule.word,
    );
  }
  const parsed = attempt(innerRule, tokens, `plan ${innerRule.usage}`, rule.word);
  return parsed.kind === 'error' ? parsed : rule.build(parsed, {});
}

function attempt(rule: CommandRule, tokens: string[], usage: string, word = rule.word): Command | ParseError {
  try {
    return apply(rule, tokens);
  } catch (problem) {
    if (problem instanceof CommandNotUnderstood) return error(problem.reason, problem.message, usage, word);
    if (problem instanceof ValidationError) return error('invalid-value', problem.message, usage, word);
    throw problem;
  }
}

function error(reason: ParseProblem, problem: string, usage: string, command?: string): ParseError {
  return { kind: 'error', reason, problem, usage, ...(command ? { command } : {}) };
}

/** Applies one rule: argument, options, then the rule's conflicts and requirements, then its build. */
function apply(rule: CommandRule, tokens: string[]): Command {
  const { positional, options } = readOptions(rule, tokens);
  const spec = rule.argument;
  if (positional.length > (spec ? 1 : 0)) {
    throw new CommandNotUnderstood('unexpected-argument', `Unexpected "${positional[spec ? 1 : 0]}".`);
  }
  const raw = positional[0];
  if (spec?.required && raw === undefined) {
    const what = spec.placeholder === '<account>' ? 'The storage account' : spec.placeholder;
    throw new CommandNotUnderstood('missing-argument', `${what} is missing.`);
  }
  const argument = spec && raw !== undefined ? spec.parse(raw) : undefined;
  for (const conflict of rule.conflicts ?? []) {
    const given = conflict.options.filter((o) => o in options);
    if (given.length > 1) {
      throw new CommandNotUnderstood(
        'conflicting-options',
        `${given.map((o) => `--${o}`).join(' and ')} cannot be given together: ${conflict.why}.`,
      );
    }
  }
  for (const { option, along, why } of rule.needsAlong ?? []) {
    if (option in options && !along.some((o) => o in options)) {
      throw new CommandNotUnderstood(
        'missing-option',
        `${why}; give ${along.map((o) => `--${o}`).join(' or ')} too.`,
      );
    }
  }
  if (rule.needsOneOf && !rule.needsOneOf.options.some((o) => o in options)) {
    throw new CommandNotUnderstood('missing-option', rule.needsOneOf.why);
  }
  return rule.build(argument, options);
}

function readOptions(rule: CommandRule, tokens: string[]): { positional: string[]; options: Options } {
  const positional: string[] = [];
  const options: Options = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if (!token.startsWith('--')) {
      positional.push(token);
      continue;
    }
    const [name = '', inline] = splitOnce(token.slice(2));
    const kind = rule.options[name.toLowerCase()];
    const flag = `--${name.toLowerCase()}`;
    if (!kind) {
      const known = Object.keys(rule.options);
      throw new CommandNotUnderstood(
        'unknown-option',
        `"--${name}" is not an option of ${rule.word}${known.length ? ` (options: ${known.map((k) => `--${k}`).join(', ')})` : ''}.`,
      );
    }
    const key = name.toLowerCase();
    if (key in options) throw new CommandNotUnderstood('repeated-option', `${flag} is given twice.`);
    if (kind === 'switch') {
      if (inline !== undefined) throw new CommandNotUnderstood('unexpected-value', `${flag} takes no value.`);
      options[key] = true;
      continue;
    }
    const value = inline ?? tokens[i + 1];
    if (value === undefined || value === '' || (inline === undefined && value.startsWith('--'))) {
      throw new CommandNotUnderstood('missing-value', `${flag} needs a value.`);
    }
    if (inline === undefined) i++;
    options[key] = kind(value, flag);
  }
  return { positional, options };
}

/** `name=value` split at the first `=` only (tag values may contain `=`). */
function splitOnce(text: string): [string, string | undefined] {
  const at = text.indexOf('=');
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function stripMentions(text: string): string {
  return text
    .replace(/<at>[^<]*<\/at>/gi, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/<[^>]+>/g, ' ');
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    tokens.push(match[1] ?? match[2] ?? match[3] ?? '');
  }
  return tokens;
}
