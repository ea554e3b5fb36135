import { patched, workflowInfo } from '@temporalio/workflow';
import { baselinePatches, RULES_MEMO, type RULES_ONLY } from '../shared/rules';

/**
 * Patch ids for `patched()`: each names a change of runbook behaviour that runs already in
 * flight must not see, so their recorded histories keep replaying on the old path. A run started
 * now carries every marker.
 */
export const PATCHES = {
  /**
   * The approval policy and the bot keys come from the worker (`loadRunSettings`, recorded in
   * history) and the start must carry the bot's signature; earlier runs used the policy in their input.
   */
  workerOwnedPolicy: 'worker-owned-policy',
  /**
   * Destructive decided by the effect (revoke, disable and changeKey always need approval; a
   * configure that changes the key is approved as a key change), a re-check before every
   * destructive step, a new card when an approval lapses, and a revocation bound to the list of
   * grants that was approved (removal and key disabling as two steps).
   */
  destructiveByEffect: 'destructive-by-effect',
  /** A run whose outcome is `failed` ends as a failed workflow (its result in the failure's details). */
  failedRunFails: 'failed-run-fails-workflow',
  /** A scheduled rotation that finds its account busy retries within its period instead of skipping it. */
  busyTickRetries: 'busy-tick-retries',
  /**
   * A fleet reads which key each account uses and rotates each key once: the first account of
   * a key rotates it, the others follow it onto that one version (a fleet's rotation id).
   */
  rotateEachKeyOnce: 'rotate-each-key-once',
  /**
   * configure and changeKey make (or check) the key before granting the account's identity
   * access to it: a role assignment scoped to a key needs the key to exist.
   */
  keyBeforeGrant: 'key-before-grant',
  /**
   * A fleet carries counts and failures (capped) over continue-as-new instead of every account's
   * outcome, hands on its accounts in compact form, and its result and `status` list a bounded
   * number of outcomes (with counts): every payload stays small however large the fleet.
   */
  boundedFleet: 'bounded-fleet',
  /**
   * Scheduled rotations of accounts that share a key take turns on it (a child under the key's
   * workflow id) and adopt a version made within their period: one rotation of the key per period.
   */
  keyOncePerPeriod: 'key-once-per-period',
  /**
   * A rotation that leaves a versionless account pending starts a follow-up that confirms, past
   * Azure's daily check, that Azure moved the account to the new version (or raises it).
   */
  versionlessPickup: 'versionless-pickup',
  /**
   * An undo that failed is followed by a read of the account's encryption, so the card and the
   * result say what Azure really holds (and change-key no longer reports a failed switch-back as done).
   */
  undoReadsState: 'undo-reads-state',
  /**
   * A fleet's card shows progress after every few outcomes instead of every few seconds of
   * workflow time, so whether a card update comes next never depends on a task's start time.
   */
  progressByCount: 'progress-by-count',
  /**
   * A rotation schedules its ARM write (the rotateKey activity) on its subscription's write
   * queue, whose rate Temporal's server enforces across every worker; earlier runs keep the
   * runbooks' queue.
   */
  armWriteQueue: 'arm-write-queue',
  /**
   * Every ARM write of the other runbooks (vault, identity, grant, account encryption, revoke,
   * their undos) goes on the write queue of the subscription it writes in, when a worker polls it
   * (the run's settings say so); earlier runs keep the runbooks' queue.
   */
  everyArmWriteQueued: 'every-arm-write-queued',
  /**
   * A start proof's lifetime is checked once, when the chain that acts on it starts: a fleet's or
   * schedule's rotation (a child) and a fleet's continued run no longer re-check its expiry, so a
   * fleet approved or running past the proof's five minutes goes on instead of ending `invalid`.
   */
  proofCheckedOnce: 'proof-checked-once',
  /**
   * A rotation makes its key version first, on the queue of Key Vault creates the server paces
   * per vault (the `makeKeyVersion` activity), then moves the account on its subscription's ARM
   * write queue; a fleet's account that follows its key's first account onto that version skips
   * the first half. Earlier runs made the version inside `rotateKey`.
   */
  keyVaultQueue: 'key-vault-queue',
  /**
   * The worker verifies the start proof's signature when the run loads its settings (the activity
   * returns, and history records, the verified claims or the problem) instead of the run verifying
   * it in the workflow sandbox; the run still checks the claims' scope, lifetime, requester, tenant and policy.
   */
  proofVerifiedByWorker: 'proof-verified-by-worker',
  /**
   * A fleet starts its keys' first accounts vault by vault in turn (the first key of every vault,
   * then the second, …) rather than in the order given, so the rotations running at once make their
   * versions in many vaults, each paced on its own, instead of queueing behind one vault's pace.
   */
  leadersAcrossVaults: 'leaders-across-vaults',
  /**
   * A fleet runs up to 100 rotations at once by default (40 before): the ARM write queue now
   * spends ARM's burst, and 40 rotations of ~3 s each could not keep up with it.
   */
  burstFleetConcurrency: 'burst-fleet-concurrency',
  /**
   * A fleet's re-check of its approved plan also says which key each account uses, so its first
   * run orders its rotations by key without reading every account again (keysInUse); continued
   * runs still read them.
   */
  fleetKeysFromRecheck: 'fleet-keys-from-recheck',
  /**
   * A run's first rotations start in waves of 20, 300 ms apart (fleet-rotation.ts), not all at
   * once: a fleet's first ARM write is answered ~2 s sooner. Each wave's pause is a timer.
   */
  startInWaves: 'start-in-waves',
  /**
   * A fleet makes the new version of each key several of its accounts share itself, first (on
   * the vault's paced queue), then starts every account of that key to move onto it, instead of
   * starting the others only once the key's first account has rotated it and ended.
   */
  fleetMakesSharedVersions: 'fleet-makes-shared-versions',
} as const;

/** Patch ids written out where they are asked, before PATCHES collected them. */
export const PACED_FLEET_PATCH = 'paced-fleet-concurrency';
/** The patch that gave fleets a plan card, one approval and a progress card. */
export const FLEET_PLAN_PATCH = 'fleet-plan-approval';

/**
 * Whether this run takes patch `patchId`'s path: in force without a marker when the run started
 * under a baseline that holds it, otherwise as `patched` says (a marker in a new run; in a replay,
 * whether the run recorded one). Every patch in workflow code is asked here.
 */
export function inForce(patchId: string): boolean {
  if (baselinePatches(workflowInfo().memo?.[RULES_MEMO]).includes(patchId)) return true;
  return patched(patchId);
}

/**
 * Whether this run takes `change`'s path: only when it started under a baseline that holds it
 * (src/shared/rules.ts). Asks no `patched`, so it records nothing and may be asked anywhere in
 * workflow code, interceptors too.
 */
export function heldByRules(change: (typeof RULES_ONLY)[keyof typeof RULES_ONLY]): boolean {
  return baselinePatches(workflowInfo().memo?.[RULES_MEMO]).includes(change);
}
