/**
 * The rules a run starts under, named in its memo by whatever starts it (the bot, a fleet, a
 * schedule's run). Each name is a baseline of patches (src/workflows/patches.ts) that were all in
 * force when it was made: a run started under one takes those patches' paths from its first task
 * without recording a marker for each, nor the `TemporalChangeVersion` search-attribute upsert
 * the SDK adds to every marker (two history events and a visibility write per patch).
 *
 * The memo is set at start and recorded in the start event, so a replay reads the same rules. A
 * baseline only ever selects the paths a run started now takes anyway: a memo cannot make a run
 * take an older, weaker path, so a starter's input decides nothing about safety.
 */
export const RULES_MEMO = 'cmkRules';

/** The baseline every run started by this code names. */
export const CURRENT_RULES = 'rules-2026-12-01';

/**
 * Every baseline ever released. The payload codec leaves a memo value that is exactly one of
 * these in clear: it names a release, not a person or a resource, and a client without the codec
 * (the CLI, an operator's script) must still be able to describe and list the runs.
 */
export const RULES_NAMES: readonly string[] = [CURRENT_RULES];

/** The memo a run is started with, so it runs under {@link CURRENT_RULES}. */
export function rulesMemo(): Record<string, string> {
  return { [RULES_MEMO]: CURRENT_RULES };
}
