/**
 * What the chaos suite shares: a worker in a child process that can be SIGKILLed and started
 * again, history reading (which activities completed, which decisions were accepted), and the
 * table each suite prints at the end.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { DecideInput } from '../../src/shared/approval';
import { openPayload } from '../helpers/codec';
import { workerNodeFlags } from '../../src/workflow-threads';
import { workflowBundle } from '../helpers/temporal';
import { workerProcessEnv, type WorkerProcessOptions } from '../kit/worker-process';

const ROOT = path.resolve(__dirname, '../..');

import { CHAT_ACTIVITIES } from './chat-activities';

export { CHAT_ACTIVITIES };

/** A path to the run's workflow bundle file (written here when the file runs alone). */
export async function bundlePath(): Promise<string> {
  if (process.env.CMK_TEST_WORKFLOW_BUNDLE) return process.env.CMK_TEST_WORKFLOW_BUNDLE;
  const dir = path.join(ROOT, '.data', 'test');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `chaos-bundle-${process.pid}.js`);
  writeFileSync(file, (await workflowBundle()).code);
  return file;
}

/** A worker process that can be killed without warning and replaced on the same queue. */
export interface ChildWorker {
  /** SIGKILL the polling worker, then wait for the process to be gone. */
  kill(): Promise<void>;
  /** Lets a warmed-up spare poll (after a kill) and resolves once it does; a new spare warms up. */
  start(): Promise<void>;
  /**
   * Tells the polling worker to hold every activity of the run after its `n`th completed Azure
   * activity, until it is killed (see worker-process.ts).
   */
  hold(runId: string, n: number): void;
  /**
   * Tells the polling worker to hold the answer of the run's next `activityType` activity once
   * it has done its work against Azure; resolves when the worker is holding it.
   */
  holdIn(runId: string, activityType: string): Promise<void>;
  /** Lets a held answer go to Temporal. */
  release(runId: string): void;
  /** How many times a worker was killed. */
  readonly kills: number;
  /** Kills every process this made. */
  close(): Promise<void>;
}

/** Options of {@link startChildWorker}: where the worker polls, the local Azure and the policy it reads. */
export type ChildWorkerOptions = Pick<WorkerProcessOptions, 'address' | 'local' | 'taskQueue' | 'policy'>;

interface Proc {
  child: ChildProcess;
  /** Resolves once the child has printed `word` on a line of its own. */
  said(word: string): Promise<void>;
  ready: Promise<void>;
  polling: Promise<void>;
}

/**
 * Spawns the production worker's `main` through `worker-process.ts` (one polling, one warm spare)
 * and resolves when the first polls.
 */
export async function startChildWorker(options: ChildWorkerOptions): Promise<ChildWorker> {
  const bundle = await bundlePath();
  const spawnOne = (): Proc => {
    const child = spawn(
      process.execPath,
      [...workerNodeFlags(), '--import', 'tsx', path.join(__dirname, 'worker-process.ts')],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: workerProcessEnv({ ...options, bundlePath: bundle }),
      },
    );
    let errors = '';
    child.stderr?.on('data', (d: Buffer) => (errors = (errors + d.toString()).slice(-8000)));
    // The worker's JSON log shares stdout with the words it says to the suite.
    const lines = createInterface({ input: child.stdout });
    const said = (word: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const heard = (line: string): void => {
          if (line !== word) return;
          lines.off('line', heard);
          child.off('exit', exited);
          resolve();
        };
        const exited = (code: number | null, signal: string | null): void => {
          lines.off('line', heard);
          reject(new Error(`worker exited (${code ?? signal}) before "${word}": ${errors}`));
        };
        lines.on('line', heard);
        child.once('exit', exited);
      });
    const ready = said('ready');
    const polling = said('polling');
    ready.catch(() => undefined);
    polling.catch(() => undefined);
    return { child, said, ready, polling };
  };
  const alive = (p: Proc | undefined): p is Proc =>
    p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
  let active: Proc | undefined;
  const spares = [spawnOne()];
  let kills = 0;
  const promote = async (): Promise<void> => {
    const next = spares.shift()!;
    spares.push(spawnOne());
    await next.ready;
    next.child.stdin?.write('go\n');
    await next.polling;
    active = next;
  };
  const killProc = async (p: Proc | undefined): Promise<boolean> => {
    if (!alive(p)) return false;
    const gone = new Promise((resolve) => p.child.once('exit', resolve));
    p.child.kill('SIGKILL');
    await gone;
    return true;
  };
  await promote();
  return {
    get kills() {
      return kills;
    },
    async kill() {
      if (await killProc(active)) kills++;
    },
    start: promote,
    hold(runId, n) {
      active?.child.stdin?.write(`hold ${runId} ${n}\n`);
    },
    async holdIn(runId, activityType) {
      const p = active!;
      const held = p.said(`held ${activityType}`);
      p.child.stdin?.write(`hold-in ${runId} ${activityType}\n`);
      await held;
    },
    release(runId) {
      active?.child.stdin?.write(`release ${runId}\n`);
    },
    async close() {
      for (const p of [active, ...spares]) await killProc(p);
    },
  };
}

/** The type of every activity that completed, in order. */
export async function completedActivities(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const types = new Map<string, string>();
  const done: string[] = [];
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes)
      types.set(String(e.eventId), e.activityTaskScheduledEventAttributes?.activityType?.name ?? '');
    if (e.activityTaskCompletedEventAttributes)
      done.push(types.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)) ?? '');
  }
  return done;
}

/** Who had approved (distinct approvers, accepted and completed `decide` updates) when an activity was scheduled. */
export interface GateInHistory {
  activity: string;
  approvers: string[];
}

/**
 * For every scheduled activity of the given types, the approvers whose approval the run had
 * accepted before it, read from the run's history (the decisions' sealed payloads opened).
 */
export async function approvalsBefore(
  handle: WorkflowHandle,
  types: readonly string[],
): Promise<GateInHistory[]> {
  if (!types.length) return [];
  const events = (await handle.fetchHistory()).events ?? [];
  const asked = new Map<string, DecideInput>();
  const approvers = new Set<string>();
  const gates: GateInHistory[] = [];
  for (const e of events) {
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    if (accepted?.input?.name === 'decide' && accepted.input.args?.payloads?.[0])
      asked.set(
        accepted.meta?.updateId ?? '',
        await openPayload<DecideInput>(accepted.input.args.payloads[0]),
      );
    const completed = e.workflowExecutionUpdateCompletedEventAttributes;
    if (completed?.outcome?.success) {
      const decision = asked.get(completed.meta?.updateId ?? '');
      if (decision?.verdict === 'approve') approvers.add(decision.approverAadId);
    }
    const type = e.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
    if (types.includes(type)) gates.push({ activity: type, approvers: [...approvers] });
  }
  return gates;
}

/** Completed activities that act on Azure (chat left out): the boundaries the suite kills at. */
export async function completedAzureActivities(handle: WorkflowHandle): Promise<string[]> {
  return (await completedActivities(handle)).filter((t) => !CHAT_ACTIVITIES.includes(t));
}

/**
 * After a kill, an activity the dead worker held would only be retried when its heartbeat or
 * start-to-close timeout runs out (a minute or more); this shortens the timeouts of every
 * activity a worker had started, waits until the dead attempt has timed out, and then restores
 * the options the workflow gave it, so the retry comes within seconds and runs as the runbook
 * asked. Call it while no worker polls: the retry cannot start before the options are restored
 * (a 3 s heartbeat timeout left on the retry fails a long wait on every attempt). An activity
 * only scheduled is left alone: the new worker picks it up.
 */
export async function hurryPendingActivities(client: Client, handle: WorkflowHandle): Promise<number> {
  const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
  const description = await handle.describe();
  const execution = { workflowId: handle.workflowId, runId: description.runId };
  const started = (description.raw.pendingActivities ?? [])
    .filter((a) => a.state === STARTED)
    .map((a) => a.activityId ?? '');
  for (const id of started) {
    await client.workflowService.updateActivityOptions({
      namespace: 'default',
      execution,
      id,
      activityOptions: { startToCloseTimeout: msToTs('60s'), heartbeatTimeout: msToTs('3s') },
      updateMask: { paths: ['start_to_close_timeout', 'heartbeat_timeout'] },
      identity: 'chaos-suite',
    });
  }
  if (started.length === 0) return 0;
  await eventually("the dead worker's activities time out", async () => {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    return pending.some((a) => started.includes(a.activityId ?? '') && a.state === STARTED)
      ? undefined
      : true;
  });
  const stillPending = ((await handle.describe()).raw.pendingActivities ?? []).map((a) => a.activityId ?? '');
  for (const id of started.filter((i) => stillPending.includes(i))) {
    await client.workflowService.updateActivityOptions({
      namespace: 'default',
      execution,
      id,
      restoreOriginal: true,
      identity: 'chaos-suite',
    });
  }
  return started.length;
}

/** One row of a suite's closing table. */
export interface Row {
  case: string;
  expected: string;
  got: string;
  pass: boolean;
}

/**
 * A kill case: its row in the suite's table (`show` renders what was expected and what came),
 * then the assertion that what came is what was expected.
 */
export function expectKillCase<T extends object>(
  rows: Row[],
  kill: { k: number; at: string | undefined; message: string },
  got: T,
  want: T,
  show: (o: T) => string,
): void {
  rows.push({
    case: `killed after #${kill.k} ${kill.at ?? '(run ended first)'}`,
    expected: show(want),
    got: show(got),
    pass: JSON.stringify(got) === JSON.stringify(want),
  });
  assert.deepEqual(got, want, `killed after #${kill.k} ${kill.at}: ${kill.message}`);
}

/** Prints the rows as a fixed-width table on stdout. */
export function printTable(title: string, rows: Row[]): void {
  const cells = rows.map((r) => [r.case, r.expected, r.got, r.pass ? 'pass' : 'FAIL']);
  const head = ['case', 'expected', 'got', 'pass'];
  const widths = head.map((h, i) => Math.min(70, Math.max(h.length, ...cells.map((c) => c[i]!.length))));
  const line = (c: string[]): string =>
    c
      .map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!)))
      .join(' | ');
  const out = [
    '',
    `${title} (${rows.filter((r) => r.pass).length}/${rows.length} pass)`,
    line(head),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...cells.map(line),
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

/** Polls until `probe` gives a value (each wait 50 ms). */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened within ${timeoutMs} ms: ${what}`);
}
