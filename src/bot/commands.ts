/**
 * The chat command language, parsed without side effects: text → {@link Command} or a
 * {@link ParseError} that names the exact problem and shows the right form.
 */
import { parseAccountId, validateUserAssignedIdentityId, type AccountRef } from '../shared/accounts';
import { parseDurationMs } from '../shared/duration';
import { MIN_ROTATION_EVERY, MIN_ROTATION_EVERY_MS } from '../shared/start';
import {
  KEY_SIZES,
  ValidationError,
  validateKeyName,
  validateKeySize,
  validateStorageAccountName,
  validateVaultName,
  type KeySize,
} from '../shared/names';

/** An account as typed: a bare name (resolved later in the configured subscriptions) or a resource id. */
export type AccountArg = { name: string } | { ref: AccountRef };

/** A command the bot understands. */
export type Command =
  | { kind: 'help' }
  | {
      kind: 'configure';
      account: AccountArg;
      vault?: string;
      key?: string;
      keySize: KeySize;
      hsm: boolean;
      pinVersion: boolean;
      /** The user allows turning purge protection on for an existing vault (irreversible). */
      allowPurgeProtection: boolean;
      userIdentity?: string;
    }
  | { kind: 'rotate'; account: AccountArg }
  | { kind: 'changeKey'; account: AccountArg; key: string; vault?: string }
  | { kind: 'revoke'; account: AccountArg }
  | { kind: 'disable'; account: AccountArg }
  | { kind: 'cancel'; account: AccountArg }
  | { kind: 'status'; account?: AccountArg }
  | { kind: 'runs' }
  | { kind: 'scheduleRotation'; account: AccountArg; every: string; everyMs: number; replace: boolean }
  | { kind: 'unscheduleRotation'; account: AccountArg };

/** The command kinds, in the order help lists them. */
export type CommandKind = Command['kind'];

/** A command that could not be parsed: what is wrong and the form that works. */
export interface ParseError {
  kind: 'error';
  problem: string;
  /** The right form of the command the user meant, or the list of commands. */
  usage: string;
  /** The command word, when it was recognised. */
  command?: string;
}

/** Every command word with its form and a one-line description (help card, manifest). */
export const COMMAND_FORMS = [
  { word: 'help', usage: 'help', description: 'Show the commands' },
  {
    word: 'configure',
    usage:
      'configure <account> [--vault <name>] [--key <name>] [--key-size 2048|3072|4096] [--hsm] [--pin-version] [--enable-purge-protection] [--user-identity <id>]',
    description: 'Create the vault and key if needed and turn on customer-managed keys',
  },
  { word: 'rotate', usage: 'rotate <account>', description: 'Rotate the key to a new version' },
  {
    word: 'change-key',
    usage: 'change-key <account> --key <name> [--vault <name>]',
    description: 'Move the account to another key',
  },
  { word: 'revoke', usage: 'revoke <account>', description: "Revoke the account's access to its key" },
  { word: 'disable', usage: 'disable <account>', description: 'Go back to Microsoft-managed keys' },
  {
    word: 'cancel',
    usage: 'cancel <account>',
    description: 'Withdraw the run on an account before it changes anything (its requester or an approver)',
  },
  { word: 'status', usage: 'status [<account>]', description: "Show an account's run, or the recent runs" },
  { word: 'runs', usage: 'runs', description: 'List recent runs with their Temporal UI links' },
  {
    word: 'schedule-rotation',
    usage: 'schedule-rotation <account> --every <duration> [--replace]',
    description: `Rotate the key automatically, e.g. --every 90d (at least ${MIN_ROTATION_EVERY}); --replace an existing schedule`,
  },
  {
    word: 'unschedule-rotation',
    usage: 'unschedule-rotation <account>',
    description: 'Stop automatic rotation',
  },
] as const;

type Word = (typeof COMMAND_FORMS)[number]['word'];

/** Flags each command accepts, and whether each takes a value. */
const FLAGS: Record<Word, Record<string, 'value' | 'switch'>> = {
  help: {},
  configure: {
    vault: 'value',
    key: 'value',
    'key-size': 'value',
    hsm: 'switch',
    'pin-version': 'switch',
    'enable-purge-protection': 'switch',
    'user-identity': 'value',
  },
  rotate: {},
  'change-key': { key: 'value', vault: 'value' },
  revoke: {},
  disable: {},
  cancel: {},
  status: {},
  runs: {},
  'schedule-rotation': { every: 'value', replace: 'switch' },
  'unschedule-rotation': {},
};

/** Default vault name for an account: `kv-<account>`, cut to Key Vault's 24 characters. */
export function defaultVaultName(account: string): string {
  return `kv-${account}`.slice(0, 24);
}

/** Default key name for customer-managed keys. */
export const DEFAULT_KEY_NAME = 'cmk-key';

/** Usage line of a command word. */
export function usageOf(word: string): string {
  return COMMAND_FORMS.find((c) => c.word === word)?.usage ?? 'help';
}

/** All usage lines, one per line, for "I did not understand" answers. */
export function allUsages(): string {
  return COMMAND_FORMS.map((c) => c.usage).join('\n');
}

/** Parses one chat message (mentions already removed). Never throws. */
export function parseCommand(text: string): Command | ParseError {
  const tokens = tokenize(stripMentions(text));
  const word = tokens.shift()?.toLowerCase();
  if (!word) return { kind: 'error', problem: 'The message is empty.', usage: allUsages() };
  const form = COMMAND_FORMS.find((c) => c.word === word);
  if (!form) return { kind: 'error', problem: `"${word}" is not a command.`, usage: allUsages() };
  try {
    return build(form.word, tokens);
  } catch (error) {
    const problem =
      error instanceof ValidationError || error instanceof UsageError
        ? error.message
        : String((error as Error).message);
    return { kind: 'error', problem, usage: form.usage, command: form.word };
  }
}

class UsageError extends Error {}

function build(word: Word, tokens: string[]): Command {
  const { positional, flags } = splitFlags(word, tokens);
  const maxPositional = word === 'help' || word === 'runs' ? 0 : 1;
  if (positional.length > maxPositional) {
    throw new UsageError(`Unexpected "${positional[maxPositional]}".`);
  }
  const needAccount = (): AccountArg => {
    const raw = positional[0];
    if (!raw) throw new UsageError('The storage account is missing.');
    return parseAccountArg(raw);
  };
  switch (word) {
    case 'help':
      return { kind: 'help' };
    case 'runs':
      return { kind: 'runs' };
    case 'status':
      return positional[0] ? { kind: 'status', account: parseAccountArg(positional[0]) } : { kind: 'status' };
    case 'rotate':
      return { kind: 'rotate', account: needAccount() };
    case 'revoke':
      return { kind: 'revoke', account: needAccount() };
    case 'disable':
      return { kind: 'disable', account: needAccount() };
    case 'cancel':
      return { kind: 'cancel', account: needAccount() };
    case 'unschedule-rotation':
      return { kind: 'unscheduleRotation', account: needAccount() };
    case 'schedule-rotation': {
      const account = needAccount();
      const every = flags.every;
      if (typeof every !== 'string')
        throw new UsageError('--every <duration> is required, e.g. --every 90d.');
      const everyMs = parseDurationMs(every, '--every');
      if (everyMs < MIN_ROTATION_EVERY_MS) {
        throw new UsageError(
          `--every: at least ${MIN_ROTATION_EVERY} (got "${every}"); Key Vault itself rotates a key at most every 7 days, and each rotation leaves a key version behind.`,
        );
      }
      return { kind: 'scheduleRotation', account, every, everyMs, replace: flags.replace === true };
    }
    case 'change-key': {
      const account = needAccount();
      if (typeof flags.key !== 'string') throw new UsageError('--key <name> is required.');
      const cmd: Command = { kind: 'changeKey', account, key: validateKeyName(flags.key, '--key') };
      if (typeof flags.vault === 'string') cmd.vault = validateVaultName(flags.vault, '--vault');
      return cmd;
    }
    case 'configure': {
      const account = needAccount();
      const size = flags['key-size'];
      if (typeof size === 'string' && !/^\d+$/.test(size)) {
        throw new ValidationError('--key-size', `must be one of ${KEY_SIZES.join(', ')} bits`, size);
      }
      const cmd: Command = {
        kind: 'configure',
        account,
        keySize: size === undefined ? 2048 : validateKeySize(Number(size), '--key-size'),
        hsm: flags.hsm === true,
        pinVersion: flags['pin-version'] === true,
        allowPurgeProtection: flags['enable-purge-protection'] === true,
      };
      if (typeof flags.vault === 'string') cmd.vault = validateVaultName(flags.vault, '--vault');
      if (typeof flags.key === 'string') cmd.key = validateKeyName(flags.key, '--key');
      if (typeof flags['user-identity'] === 'string') {
        cmd.userIdentity = validateUserAssignedIdentityId(flags['user-identity'], '--user-identity');
      }
      return cmd;
    }
  }
}

function parseAccountArg(raw: string): AccountArg {
  if (raw.startsWith('/')) return { ref: parseAccountId(raw, '<account>') };
  return { name: validateStorageAccountName(raw, '<account>') };
}

function splitFlags(
  word: Word,
  tokens: string[],
): { positional: string[]; flags: Record<string, string | true> } {
  const allowed = FLAGS[word];
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if (!token.startsWith('--')) {
      positional.push(token);
      continue;
    }
    const [name = '', inline] = token.slice(2).toLowerCase().split('=', 2);
    const kind = allowed[name];
    if (!kind) {
      const known = Object.keys(allowed);
      throw new UsageError(
        `"--${name}" is not an option of ${word}${known.length ? ` (options: ${known.map((k) => `--${k}`).join(', ')})` : ''}.`,
      );
    }
    if (name in flags) throw new UsageError(`--${name} is given twice.`);
    if (kind === 'switch') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value.`);
      flags[name] = true;
      continue;
    }
    const value = inline ?? tokens[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new UsageError(`--${name} needs a value.`);
    }
    if (inline === undefined) i++;
    flags[name] = value;
  }
  return { positional, flags };
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
