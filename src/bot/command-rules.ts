/**
 * The chat command language as a table of rules: each command's word, form, description, the
 * argument and options it takes, the combinations it refuses (each with its reason), and how
 * the parsed parts become a {@link Command}. The parser (`commands.ts`) only applies the table.
 */
import type { Command, FleetSelector, KeyArgs, RotationPolicyArgs } from './command-types';
import { CommandNotUnderstood } from './command-types';
import * as v from './command-values';
import { MIN_ROTATION_EVERY, MIN_ROTATION_EVERY_MS } from '../shared/start';

/** An option: a switch, or a value read by its parser. */
export type OptionRule = 'switch' | v.ValueParser<unknown>;

/** Options of a command as parsed: switches are `true`, values are what their parser returned. */
export type Options = Record<string, unknown>;

/** Two or more options that cannot be given together, and why. */
export interface Conflict {
  options: string[];
  why: string;
}

/** One command of the table. */
export interface CommandRule {
  word: string;
  /** The right form, as help and error cards show it. */
  usage: string;
  description: string;
  /** The one positional argument, if any: how it is named and read. */
  argument?: { placeholder: string; required: boolean; parse: (raw: string) => unknown };
  options: Record<string, OptionRule>;
  conflicts?: Conflict[];
  /** At least one of these options must be given, and the sentence when none is. */
  needsOneOf?: { options: string[]; why: string };
  /** An option that means something only next to one of the others. */
  needsAlong?: { option: string; along: string[]; why: string }[];
  /** `plan <operation> …`: the rest of the message is another command of the table. */
  nested?: boolean;
  build: (argument: unknown, options: Options) => Command;
}

const KEY_OPTIONS: Record<string, OptionRule> = {
  vault: v.vaultName,
  'vault-subscription': v.subscriptionId,
  'vault-resource-group': v.resourceGroup,
  key: v.keyName,
  'key-uri': v.keyUri,
  'key-version': v.keyVersion,
  'key-type': v.keyType,
  'key-size': v.keySize,
  hsm: 'switch',
  'pin-version': 'switch',
  versionless: 'switch',
};

const KEY_CONFLICTS: Conflict[] = [
  { options: ['key-uri', 'vault'], why: '--key-uri already names the vault' },
  { options: ['key-uri', 'key'], why: '--key-uri already names the key' },
  { options: ['key-uri', 'key-version'], why: '--key-uri already names the version, or none' },
  { options: ['pin-version', 'versionless'], why: 'an account is either pinned to a version or versionless' },
  { options: ['key-version', 'versionless'], why: '--key-version pins the account to that version' },
  { options: ['hsm', 'key-type'], why: '--hsm is --key-type RSA-HSM' },
];

const KEY_PLACEMENT = [
  {
    option: 'vault-subscription',
    along: ['vault', 'key-uri'],
    why: '--vault-subscription says where the vault named by --vault or --key-uri is',
  },
  {
    option: 'vault-resource-group',
    along: ['vault', 'key-uri'],
    why: '--vault-resource-group says where the vault named by --vault or --key-uri is',
  },
];

/** The key options as {@link KeyArgs}; a versioned `--key-uri` pins unless `--versionless` says otherwise (refused). */
function keyArgs(o: Options): KeyArgs {
  const uri = o['key-uri'] as ReturnType<typeof v.keyUri> | undefined;
  if (uri?.version && o.versionless) {
    throw new CommandNotUnderstood(
      'conflicting-options',
      '--key-uri names a version, which pins the account; drop the version or --versionless.',
    );
  }
  const args: KeyArgs = {};
  const set = <K extends keyof KeyArgs>(key: K, value: KeyArgs[K] | undefined): void => {
    if (value !== undefined) args[key] = value;
  };
  set('vault', (o.vault as string | undefined) ?? uri?.vault);
  set('vaultSubscription', o['vault-subscription'] as string | undefined);
  set('vaultResourceGroup', o['vault-resource-group'] as string | undefined);
  set('key', (o.key as string | undefined) ?? uri?.key);
  set('keyVersion', (o['key-version'] as string | undefined) ?? uri?.version);
  set('keyType', o.hsm ? 'RSA-HSM' : (o['key-type'] as KeyArgs['keyType']));
  set('keySize', o['key-size'] as KeyArgs['keySize']);
  if (o['pin-version'] || args.keyVersion) args.pinVersion = true;
  else if (o.versionless) args.pinVersion = false;
  return args;
}

const account = { placeholder: '<account>', required: true, parse: (raw: string) => v.accountArg(raw) };

/** The commands that take an account and nothing else. */
type AccountOnlyKind = 'rotate' | 'restoreAccess' | 'disable' | 'cancel' | 'unscheduleRotation';

/** The rule of a command that takes an account and nothing else: `<word> <account>`. */
function accountOnly(word: string, kind: AccountOnlyKind, description: string): CommandRule {
  return {
    word,
    usage: `${word} <account>`,
    description,
    argument: account,
    options: {},
    build: (a) => ({ kind, account: a as never }),
  };
}

/** The commands, in the order help lists them. */
export const COMMAND_RULES: readonly CommandRule[] = [
  {
    word: 'help',
    usage: 'help',
    description: 'Show the commands',
    options: {},
    build: () => ({ kind: 'help' }),
  },
  {
    word: 'configure',
    usage:
      'configure <account> [--vault <name> [--vault-subscription <id>] [--vault-resource-group <group>]] [--key <name>] [--key-uri <uri>] [--key-version <version>] [--key-type RSA|RSA-HSM] [--key-size 2048|3072|4096] [--hsm] [--pin-version | --versionless] [--enable-purge-protection] [--user-identity <id>]',
    description: 'Create the vault and key if needed and turn on customer-managed keys',
    argument: account,
    options: { ...KEY_OPTIONS, 'enable-purge-protection': 'switch', 'user-identity': v.identityId },
    conflicts: KEY_CONFLICTS,
    needsAlong: KEY_PLACEMENT,
    build: (a, o) => ({
      kind: 'configure',
      account: a as never,
      key: keyArgs(o),
      allowPurgeProtection: o['enable-purge-protection'] === true,
      ...(o['user-identity'] ? { userIdentity: o['user-identity'] as string } : {}),
    }),
  },
  accountOnly('rotate', 'rotate', 'Rotate the key to a new version'),
  {
    word: 'change-key',
    usage:
      'change-key <account> (--key <name> | --key-uri <uri>) [--vault <name> [--vault-subscription <id>] [--vault-resource-group <group>]] [--key-version <version>] [--key-type RSA|RSA-HSM] [--key-size 2048|3072|4096] [--hsm] [--pin-version | --versionless]',
    description: 'Move the account to another key (keeps pinned or versionless unless told)',
    argument: account,
    options: KEY_OPTIONS,
    conflicts: KEY_CONFLICTS,
    needsOneOf: { options: ['key', 'key-uri'], why: '--key <name> or --key-uri <uri> is required.' },
    needsAlong: KEY_PLACEMENT,
    build: (a, o) => ({ kind: 'changeKey', account: a as never, key: keyArgs(o) }),
  },
  {
    word: 'update-version',
    usage: 'update-version <account> [--latest | --previous | --key-version <version> | --versionless]',
    description:
      'Pin the account to the latest, the previous or a named version of its key, or make it versionless',
    argument: account,
    options: { latest: 'switch', previous: 'switch', 'key-version': v.keyVersion, versionless: 'switch' },
    conflicts: [
      {
        options: ['latest', 'previous', 'key-version', 'versionless'],
        why: 'the account moves to one version, or becomes versionless',
      },
    ],
    build: (a, o) => ({
      kind: 'updateVersion',
      account: a as never,
      target: o.previous
        ? { kind: 'previous' }
        : o.versionless
          ? { kind: 'versionless' }
          : o['key-version']
            ? { kind: 'named', version: o['key-version'] as string }
            : { kind: 'latest' },
    }),
  },
  {
    word: 'revoke',
    usage: 'revoke <account> [--disable-key] [--confirm-within <duration, 1m–24h, default 15m>]',
    description: "Revoke the account's access to its key (and disable the key version in use)",
    argument: account,
    options: { 'disable-key': 'switch', 'confirm-within': v.confirmWithin },
    build: (a, o) => ({
      kind: 'revoke',
      account: a as never,
      disableKey: o['disable-key'] === true,
      ...(o['confirm-within'] ? { confirmWithin: o['confirm-within'] as string } : {}),
    }),
  },
  accountOnly(
    'restore-access',
    'restoreAccess',
    'Undo a revoke: grant key access back and re-enable a disabled key version',
  ),
  accountOnly('disable', 'disable', 'Go back to Microsoft-managed keys'),
  accountOnly(
    'cancel',
    'cancel',
    'Withdraw the run on an account before it changes anything (its requester or an approver)',
  ),
  {
    word: 'set-rotation-policy',
    usage:
      'set-rotation-policy <vault>/<key> [--expire-after <duration>] [--rotate-before <duration> | --rotate-after <duration>] [--notify-before <duration>]',
    description: "Set Key Vault's automatic rotation of a key, e.g. --expire-after 90d --rotate-before 30d",
    argument: { placeholder: '<vault>/<key>', required: true, parse: (raw) => v.vaultKeyPath(raw) },
    options: {
      'expire-after': v.duration,
      'rotate-before': v.duration,
      'rotate-after': v.duration,
      'notify-before': v.duration,
    },
    conflicts: [
      {
        options: ['rotate-before', 'rotate-after'],
        why: 'Key Vault rotates on one trigger: before expiry or after creation',
      },
    ],
    needsOneOf: {
      options: ['expire-after', 'rotate-before', 'rotate-after', 'notify-before'],
      why: 'Say what to set: --expire-after, --rotate-before, --rotate-after or --notify-before.',
    },
    build: (a, o) => {
      const { vault, key } = a as { vault: string; key: string };
      const policy: RotationPolicyArgs = {};
      if (o['expire-after']) policy.expireAfter = o['expire-after'] as string;
      if (o['rotate-before']) policy.rotateBefore = o['rotate-before'] as string;
      if (o['rotate-after']) policy.rotateAfter = o['rotate-after'] as string;
      if (o['notify-before']) policy.notifyBefore = o['notify-before'] as string;
      return { kind: 'setRotationPolicy', vault, key, policy };
    },
  },
  {
    word: 'rotate-fleet',
    usage: 'rotate-fleet [--tag <name>=<value>] [--resource-group <group>] [--subscription <id>]',
    description: 'Rotate every CMK account the selection names, with one approval and a progress card',
    options: { tag: v.tag, 'resource-group': v.resourceGroup, subscription: v.subscriptionId },
    needsOneOf: {
      options: ['tag', 'resource-group', 'subscription'],
      why: 'Say which accounts: --tag, --resource-group or --subscription (or several, which all must match).',
    },
    build: (_a, o) => {
      const selector: FleetSelector = {};
      if (o.tag) selector.tag = o.tag as NonNullable<FleetSelector['tag']>;
      if (o['resource-group']) selector.resourceGroup = o['resource-group'] as string;
      if (o.subscription) selector.subscriptionId = o.subscription as string;
      return { kind: 'rotateFleet', selector };
    },
  },
  {
    word: 'plan',
    usage: 'plan <operation> <account> [options of that operation]',
    description: 'Show the plan of an operation without starting it or locking the account',
    options: {},
    nested: true,
    build: (a) => ({ kind: 'plan', command: a as never }),
  },
  {
    word: 'pending',
    usage: 'pending',
    description: 'List the runs waiting for your approval',
    options: {},
    build: () => ({ kind: 'pending' }),
  },
  {
    word: 'status',
    usage: 'status [<account>]',
    description: "Show an account's run, or the recent runs",
    argument: { ...account, required: false },
    options: {},
    build: (a) => (a ? { kind: 'status', account: a as never } : { kind: 'status' }),
  },
  {
    word: 'runs',
    usage: 'runs',
    description: 'List recent runs with their Temporal UI links',
    options: {},
    build: () => ({ kind: 'runs' }),
  },
  {
    word: 'schedule-rotation',
    usage: 'schedule-rotation <account> --every <duration> [--replace]',
    description: `Rotate the key automatically, e.g. --every 90d (at least ${MIN_ROTATION_EVERY}); --replace an existing schedule`,
    argument: account,
    options: { every: v.duration, replace: 'switch' },
    needsOneOf: { options: ['every'], why: '--every <duration> is required, e.g. --every 90d.' },
    build: (a, o) => {
      const every = o.every as string;
      const everyMs = v.durationMs(every, '--every');
      if (everyMs < MIN_ROTATION_EVERY_MS) {
        throw new CommandNotUnderstood(
          'invalid-value',
          `--every: at least ${MIN_ROTATION_EVERY} (got "${every}"); Key Vault itself rotates a key at most every 7 days, and each rotation leaves a key version behind.`,
        );
      }
      return { kind: 'scheduleRotation', account: a as never, every, everyMs, replace: o.replace === true };
    },
  },
  accountOnly('unschedule-rotation', 'unscheduleRotation', 'Stop automatic rotation'),
];

/** The words `plan` accepts: the commands that start a runbook on one account. */
export const PLANNABLE_WORDS = [
  'configure',
  'rotate',
  'change-key',
  'update-version',
  'revoke',
  'restore-access',
  'disable',
] as const;
