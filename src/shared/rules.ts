/**
 * The rules a run starts under, named in its memo by whatever starts it (the bot, a fleet, a
 * schedule's run). Each name is a baseline of patches (src/workflows/patches.ts) that were all in
 * force when it was made: a run started under one takes those patches' paths from its first task
 * without recording a marker for each, nor the `TemporalChangeVersion` search-attribute upsert
 * the SDK adds to every marker (two history events and a visibility write per patch).
 *
 * The memo is set at start and recorded in the start event, so a replay reads the same rules. A
 * baseline only ever selects the paths a run started now takes anyway: a memo cannot make a run
 * take an older, weaker path, so a starter's input decides nothing about safety. The one
 * exception is a {@link RULES_ONLY} change, which a run without a baseline does not take; those
 * change how a run is recorded (fewer events), never what it does.
 */
export const RULES_MEMO = 'cmkRules';

/** The baseline every run started by this code names. */
export const CURRENT_RULES = 'rules-2026-12-02';

/**
 * Changes of a run's history that no `patched` call asks: a run takes them only when it started
 * under a baseline that holds them, so runs without one (started by hand, or by a schedule made
 * before baselines) keep the older history, and every recorded history replays as it ran.
 */
export const RULES_ONLY = {
  /**
   * The search attributes a workflow task changes go to Temporal as one upsert (src/workflows/
   * interceptors.ts), and a value a run already has is not upserted again: each upsert is a history
   * event and a visibility write on the server, six of a rotation's eight before.
   */
  coalescedSearchAttributes: 'coalesced-search-attributes',
} as const;

/** The patches of the first baseline, which every later one holds too. */
const FIRST_BASELINE: readonly string[] = [
  'worker-owned-policy',
  'destructive-by-effect',
  'failed-run-fails-workflow',
  'busy-tick-retries',
  'rotate-each-key-once',
  'key-before-grant',
  'bounded-fleet',
  'key-once-per-period',
  'versionless-pickup',
  'undo-reads-state',
  'progress-by-count',
  'arm-write-queue',
  'every-arm-write-queued',
  'proof-checked-once',
  'key-vault-queue',
  'proof-verified-by-worker',
  'leaders-across-vaults',
  'burst-fleet-concurrency',
  'fleet-keys-from-recheck',
  'paced-fleet-concurrency',
  'fleet-plan-approval',
];

/**
 * Each baseline and the patches (src/workflows/patches.ts) and {@link RULES_ONLY} changes it
 * holds in force. A baseline is frozen once released: runs started under it replay by this list,
 * so a new patch never joins an existing baseline; it is asked with `patched` until a new
 * baseline names it.
 */
const BASELINES: Readonly<Record<string, readonly string[]>> = {
  'rules-2026-12-01': FIRST_BASELINE,
  [CURRENT_RULES]: [
    ...FIRST_BASELINE,
    'start-in-waves',
    'fleet-makes-shared-versions',
    RULES_ONLY.coalescedSearchAttributes,
  ],
};

/**
 * The patches `rules` holds in force without markers; none for a run started without a baseline
 * or naming one this code does not know (a starter's memo may name anything, `constructor` too).
 */
export function baselinePatches(rules: unknown): readonly string[] {
  return typeof rules === 'string' && Object.hasOwn(BASELINES, rules) ? BASELINES[rules]! : [];
}

/**
 * Every baseline ever released. The payload codec leaves a memo value that is exactly one of
 * these in clear: it names a release, not a person or a resource, and a client without the codec
 * (the CLI, an operator's script) must still be able to describe and list the runs.
 */
export const RULES_NAMES: readonly string[] = Object.keys(BASELINES);

/** The memo a run is started with, so it runs under {@link CURRENT_RULES}. */
export function rulesMemo(): Record<string, string> {
  return { [RULES_MEMO]: CURRENT_RULES };
}
