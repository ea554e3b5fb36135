/**
 * A fleet rotation with a plan: the card lists the selected accounts (which rotate, which are
 * skipped and why), one approval of the fleet's policy covers them all, the plan is re-read
 * before the first rotation, and the same card shows progress and every account's outcome.
 * A continued run (after continue-as-new) goes on rotating: only the server can make a run a
 * continuation, so no start request can skip the approval this way.
 */
import { allHandlersFinished, condition, makeContinueAsNewFunc, workflowInfo } from '@temporalio/workflow';
import { validateAccountRef, type AccountRef } from '../shared/accounts';
import type { FleetPlan } from '../shared/activities';
import { ValidationError } from '../shared/names';
import type { Plan } from '../shared/plan';
import { groupAccounts, indexKeys, keysFromIndex, ungroupAccounts } from '../shared/fleet-tally';
import type { FleetRotateInput, RunContext, RunResult } from '../shared/runbooks';
import { summaryLine } from '../shared/status';
import { ApprovalGate, blockedMessage } from './approval-gate';
import { FleetLedger, rotateBatch, type BatchEnd } from './fleet-rotation';
import { PATCHES, inForce } from './patches';
import { azure } from './proxies';
import { Run } from './run';
import { invalidResult } from './runbook';
import { establishTrust } from './trust';
import { rulesMemo } from '../shared/rules';

/** The progress card is edited at most this often while accounts rotate. */
const PROGRESS_EVERY_MS = 5_000;
/** How many times at most a fleet's card shows its progress while it rotates. */
const PROGRESS_UPDATES = 100;

/** See the module comment. */
export async function planFleet(
  input: FleetRotateInput,
  sizing: { perRun: number; concurrency: number },
): Promise<RunResult> {
  // Bounded: counts and failures carried, not every outcome; accounts handed on in compact form.
  const bounded = inForce(PATCHES.boundedFleet);
  const ledger = new FleetLedger(bounded, input);
  const accounts = bounded ? [...input.accounts, ...ungroupAccounts(input.groups)] : input.accounts;
  const total = ledger.done + accounts.length;
  const first = accounts[0] ??
    input.carried?.[0]?.account ??
    input.tally?.failures[0]?.account ?? { subscriptionId: '', resourceGroup: '', name: '' };
  const run = new Run(
    'fleetRotate',
    first,
    input,
    summaryLine('fleetRotate', undefined, { accounts: total }),
  );
  run.status.subject = {
    kind: 'fleet',
    label: `${total} account(s)`,
    id: input.selection ? `accounts ${input.selection}` : 'the accounts named when it started',
  };
  try {
    run.trust(await establishTrust('fleetRotate', workflowInfo().workflowId, input));
  } catch (error) {
    return run.refuse(invalidResult(error));
  }
  const gate = new ApprovalGate(run);
  const result = await rotateApproved({ ...input, accounts }, run, gate, ledger, total, sizing);
  await condition(allHandlersFinished);
  return result;
}

async function rotateApproved(
  input: FleetRotateInput,
  run: Run,
  gate: ApprovalGate,
  ledger: FleetLedger,
  total: number,
  sizing: { perRun: number; concurrency: number },
): Promise<RunResult> {
  let accounts = input.accounts;
  let keys: Map<AccountRef, string | null> | undefined;
  const continued = workflowInfo().continuedFromExecutionRunId !== undefined;
  if (continued) {
    run.continueCard(input.cardMessageId);
    // The run that handed the accounts on read their keys seconds ago; a start from outside a
    // chain (not continued, a fact of the server's) never skips the read.
    const handed = keysFromIndex(input.keysOfAccounts, accounts.length);
    if (handed) keys = new Map(accounts.map((a, i) => [a, handed[i]!]));
  } else {
    const approved = await planAndApprove(input, run, gate, ledger, sizing.perRun);
    if ('result' in approved) return approved.result;
    accounts = approved.accounts;
    keys = approved.keys;
  }
  const trusted = run.context;
  const child: RunContext = {
    requester: trusted.requester,
    startProof: trusted.startProof,
    uiBaseUrl: input.uiBaseUrl,
    quiet: true,
  };
  // What the chain has done so far is the status from the start (a continued run's first child is a few tasks away).
  run.status.fleet = ledger.progress(total);
  await run.setStage('running');
  const progress = new FleetProgress(run, ledger, total);
  // Accounts on one key end on one new version of it (fleets started before rotated each account).
  const rotationId = inForce(PATCHES.rotateEachKeyOnce)
    ? (input.rotationId ?? workflowInfo().runId)
    : undefined;
  const { rest, restKeys } = await rotateBatch({
    accounts,
    context: child,
    ...sizing,
    onOutcome: (o) => {
      ledger.add(o);
      progress.outcomes++;
    },
    onTick: () => progress.show(),
    tickMs: PROGRESS_EVERY_MS,
    ...(rotationId ? { rotationId } : {}),
    ...(keys ? { keys } : {}),
  });
  if (rest.length > 0) {
    await progress.show(true);
    return continueFleet(input, run, ledger, { rest, restKeys }, rotationId);
  }
  return finishFleet(run, ledger, total);
}

/**
 * The fleet's progress on its card, shown every `step` outcomes. Fleets started before showed it
 * every few seconds of workflow time, a choice that can come out differently on replay (a workflow
 * task retried across a server restart starts at another time than the one its first attempt saw),
 * and then a card update lands where history holds a child's start: a nondeterminism error.
 */
class FleetProgress {
  /** Accounts with an outcome so far in this run. */
  outcomes = 0;
  private readonly byCount = inForce(PATCHES.progressByCount);
  private readonly step: number;
  private shownAt = 0;
  private lastShown = Date.now();

  constructor(
    private readonly run: Run,
    private readonly ledger: FleetLedger,
    private readonly total: number,
  ) {
    this.step = Math.max(1, Math.ceil(total / PROGRESS_UPDATES));
  }

  /** Publishes the card when enough has happened since it was last shown (or when forced). */
  async show(force = false): Promise<void> {
    this.run.status.fleet = this.ledger.progress(this.total);
    if (this.byCount) {
      if (!force && this.outcomes - this.shownAt < this.step) return;
      this.shownAt = this.outcomes;
    } else {
      if (!force && Date.now() - this.lastShown < PROGRESS_EVERY_MS) return;
      this.lastShown = Date.now();
    }
    await this.run.publish();
  }
}

/** Hands the accounts still to rotate, and what the fleet has counted, on to a new run. */
async function continueFleet(
  input: FleetRotateInput,
  run: Run,
  ledger: FleetLedger,
  { rest, restKeys }: BatchEnd,
  rotationId: string | undefined,
): Promise<RunResult> {
  await condition(allHandlersFinished);
  const {
    accounts: _all,
    groups: _groups,
    carried: _carried,
    tally: _tally,
    keysOfAccounts: _keys,
    ...same
  } = input;
  // The continued run is a run of this code: it starts under the current rules.
  const continued = makeContinueAsNewFunc<(i: FleetRotateInput) => Promise<RunResult>>({ memo: rulesMemo() });
  return continued({
    ...same,
    ...(ledger.bounded ? { accounts: [], groups: groupAccounts(rest) } : { accounts: rest }),
    ...ledger.carry(),
    ...(run.cardId ? { cardMessageId: run.cardId } : {}),
    ...(rotationId ? { rotationId } : {}),
    // In `rest`'s order, which the continued run reads its accounts in (grouping keeps it).
    ...(restKeys ? { keysOfAccounts: indexKeys(restKeys) } : {}),
  });
}

/** Ends the fleet with every account's outcome on its card and its summary in chat. */
async function finishFleet(run: Run, ledger: FleetLedger, total: number): Promise<RunResult> {
  run.status.fleet = ledger.progress(total);
  markFleetSteps(run, ledger.counts);
  const summary = ledger.summary(total);
  const finished = await run.finish({
    outcome: summary.outcome,
    message: summary.message,
    fleet: summary.fleet ?? [],
    ...(summary.fleetCounts ? { fleetCounts: summary.fleetCounts } : {}),
  });
  await run.say(summary.message);
  return finished;
}

/** Plans the fleet and waits for its one approval; the accounts to rotate, or the run's end. */
async function planAndApprove(
  input: FleetRotateInput,
  run: Run,
  gate: ApprovalGate,
  ledger: FleetLedger,
  perRun: number,
): Promise<{ accounts: AccountRef[]; keys?: Map<AccountRef, string | null> } | { result: RunResult }> {
  const valid = validAccounts(input.accounts, ledger);
  if ((run.context.policy.alwaysApprove ?? []).includes('rotate')) {
    const message =
      'Nothing was changed: the policy asks for an approval of every rotation (CMK_ALWAYS_APPROVE includes rotate), which one fleet approval cannot give. Rotate the accounts one by one, or take rotate out of CMK_ALWAYS_APPROVE.';
    return { result: await run.finish({ outcome: 'blocked', message }) };
  }
  const inspector = new FleetInspector(valid, input.selection, ledger.bounded);
  const inspect = (recheck = false, keys = false): Promise<Plan> => inspector.inspect(recheck, keys);
  await run.setStage('preflight');
  const plan = await run.step(
    'preflight',
    'Preflight',
    () => inspect(),
    (p) => `${p.fleet?.rotate ?? 0} to rotate, ${p.fleet?.skip ?? 0} skipped`,
  );
  run.setPlan(plan);
  if (plan.blockers.length) {
    inspector.recordSkipped(ledger);
    return {
      result: await run.finish({
        outcome: 'blocked',
        message: blockedMessage(plan),
        plan,
        fleet: ledger.listed(),
        ...(ledger.bounded ? { fleetCounts: { ...ledger.counts } } : {}),
      }),
    };
  }
  const approval = await gate.approve(plan);
  if (approval.outcome === 'approved') run.recordStep('approval', 'Approval', 'done');
  if (approval.outcome !== 'approved' && approval.outcome !== 'not-required')
    return {
      result: await run.finish({ outcome: approval.outcome, message: approval.message, plan: approval.plan }),
    };
  // Only a fleet that fits in one run: the keys of a larger one would make the re-check's result
  // grow with it (20,000 accounts, ~1.8 MB, near Temporal's 2 MB), so it reads one run's at a time.
  const keys = inForce(PATCHES.fleetKeysFromRecheck) && valid.length <= perRun;
  const current = await gate.confirmCurrent(approval.plan, () => inspect(true, keys));
  if (current.outcome !== 'approved' && current.outcome !== 'not-required')
    return {
      result: await run.finish({ outcome: current.outcome, message: current.message, plan: current.plan }),
    };
  run.setPlan(current.plan);
  inspector.recordSkipped(ledger);
  const accounts = inspector.toRotate();
  // Only a re-check gives the keys: a fleet that needed no approval was not re-checked.
  const known = inspector.keysOf(accounts);
  return { accounts, ...(known ? { keys: known } : {}) };
}

/** The accounts that name an account; each one that does not is the ledger's `invalid` outcome. */
function validAccounts(raws: AccountRef[], ledger: FleetLedger): AccountRef[] {
  const valid: AccountRef[] = [];
  for (const raw of raws) {
    try {
      valid.push(validateAccountRef(raw));
    } catch (error) {
      ledger.add({
        account: raw,
        outcome: 'invalid',
        message: error instanceof ValidationError ? error.message : String(error),
      });
    }
  }
  return valid;
}

/** Plans the fleet's rotation, keeping which accounts the latest plan skips and why. */
class FleetInspector {
  private skip: FleetPlan['skip'] = [];
  /** The key each account uses, by lowercase id, from the latest plan that gave them. */
  private keys?: Map<string, string | null>;

  constructor(
    private readonly accounts: AccountRef[],
    private readonly selection: string | undefined,
    private readonly bounded: boolean,
  ) {}

  /** The plan (a fresh read of every account when `recheck`), with the keys in use when `keys`. */
  async inspect(recheck = false, keys = false): Promise<Plan> {
    const groups = this.bounded ? groupAccounts(this.accounts) : undefined;
    const planned = await azure.inspectFleet.executeWithOptions(
      { summary: `Plan the rotation of ${this.accounts.length} account(s)` },
      [
        {
          ...(groups ? { accounts: [], groups } : { accounts: this.accounts }),
          ...(this.selection ? { selection: this.selection } : {}),
          ...(recheck ? { recheck } : {}),
          ...(keys ? { keysInUse: true } : {}),
        },
      ],
    );
    this.skip = planned.skip;
    if (planned.keysInUse) {
      // In the order the activity read the accounts: the accounts, then the groups' accounts.
      const order = groups ? ungroupAccounts(groups) : this.accounts;
      this.keys = new Map(order.map((a, i) => [idOf(a), planned.keysInUse![i] ?? null]));
    }
    return planned.plan;
  }

  /** The key each of `accounts` uses, as the latest plan with keys said; undefined when no plan did. */
  keysOf(accounts: AccountRef[]): Map<AccountRef, string | null> | undefined {
    if (!this.keys) return undefined;
    const keys = new Map<AccountRef, string | null>();
    for (const a of accounts) {
      const key = this.keys.get(idOf(a));
      if (key !== undefined) keys.set(a, key);
    }
    return keys;
  }

  /** Each account the plan skips is the ledger's `blocked` outcome, with why. */
  recordSkipped(ledger: FleetLedger): void {
    for (const s of this.skip) ledger.add({ account: s.account, outcome: 'blocked', message: s.why });
  }

  /** The accounts the plan does not skip. */
  toRotate(): AccountRef[] {
    const skipped = new Set(this.skip.map((s) => idOf(s.account)));
    return this.accounts.filter((a) => !skipped.has(idOf(a)));
  }
}

function idOf(a: AccountRef): string {
  return `${a.subscriptionId}/${a.resourceGroup}/${a.name}`.toLowerCase();
}

/**
 * The plan's rotate and probe steps, marked from the accounts' outcomes (each account's run
 * rotated and probed its own account), so the finished card does not list them as still to do.
 */
function markFleetSteps(run: Run, counts: Record<string, number>): void {
  const rotated = counts.succeeded ?? 0;
  const failed = counts.failed ?? 0;
  const detail = Object.entries(counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  run.recordStep('rotate', 'Rotate', failed ? 'failed' : 'done', detail);
  if (rotated > 0)
    run.recordStep('probe', 'Probe', 'done', `blob access allowed on ${rotated} rotated account(s)`);
}
