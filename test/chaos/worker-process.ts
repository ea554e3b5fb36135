/**
 * The production worker's `main` in its own process, so the chaos suite can SIGKILL it: configured
 * from the environment as production is (`workerProcessEnv`), against the local Azure, with the
 * suite's wiring passed in: a chat that goes nowhere, short activity waits, quick task hand-over,
 * and holds at boundaries. It warms up (imports, clients, bundle), prints "ready", and starts
 * polling only when "go" arrives on stdin, so a spare can take over from a killed worker at once.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { ChatPort } from '../../src/shared/chat';
import { main } from '../../worker';
import { FAST_TIMING } from '../kit/azure';
import { CHAT_ACTIVITIES } from './chat-activities';

/** Chat is not what this suite tests: cards get ids and go nowhere. */
const silentChat: ChatPort = {
  postCard: async () => `msg-${process.pid}-${Date.now()}`,
  updateCard: async () => undefined,
  sendText: async () => undefined,
};

/**
 * Runs the suite asked to stop at a boundary: `hold <runId> <n>` on stdin means that once this
 * worker has completed n Azure activities of that run, every later activity of the run waits here
 * until the process is killed. The boundary is then a state the suite can see and kill in, not a
 * window of a few milliseconds between the last Azure call and the run's end. An interceptor, so
 * the activities the worker adds itself (the run's settings) count as the history counts them.
 */
const holds = new Map<string, number>();
const completed = new Map<string, number>();
const holding = (runId: string): boolean =>
  holds.has(runId) && (completed.get(runId) ?? 0) >= holds.get(runId)!;

/**
 * `hold-in <runId> <activityType>`: that activity of the run does its work against Azure, then
 * its answer waits here (the worker prints `held <activityType>`) until `release <runId>` comes:
 * the middle of a step, where Azure has changed and Temporal has not heard so yet.
 */
const holdsIn = new Map<string, string>();
const releases = new Map<string, () => void>();
const released = (runId: string): Promise<void> =>
  new Promise((resolve) => {
    releases.set(runId, resolve);
  });

const holdAtBoundary: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    async execute(input, next) {
      // Runs of one account share a workflow id, so a run is known by its run id.
      const runId = ctx.info.workflowExecution?.runId ?? '';
      if (holding(runId)) await new Promise(() => undefined);
      const result = await next(input);
      if (holdsIn.get(runId) === ctx.info.activityType) {
        holdsIn.delete(runId);
        const go = released(runId);
        process.stdout.write(`held ${ctx.info.activityType}\n`);
        await go;
      }
      if (!CHAT_ACTIVITIES.includes(ctx.info.activityType))
        completed.set(runId, (completed.get(runId) ?? 0) + 1);
      return result;
    },
  },
});

/** Prints "ready", waits for "go" on stdin, then follows the suite's hold and release lines. */
async function waitForGo(): Promise<void> {
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  // The suite holds stdin open; when it is gone (killed or timed out) this worker goes too.
  lines.once('close', () => process.exit(1));
  while ((await once(lines, 'line'))[0] !== 'go');
  lines.on('line', (line: string) => {
    const [verb, runId, arg] = line.split(' ');
    if (verb === 'hold' && runId && arg) holds.set(runId, Number(arg));
    if (verb === 'hold-in' && runId && arg) holdsIn.set(runId, arg);
    if (verb === 'release' && runId) releases.get(runId)?.();
  });
  process.stdout.write('polling\n');
}

if (require.main === module) {
  const codePath = process.env.CMK_KIT_WORKFLOW_BUNDLE;
  main(process.env, {
    ...(codePath ? { workflowBundle: { codePath } } : {}),
    chat: silentChat,
    timing: FAST_TIMING,
    options: {
      shutdownGraceTime: '100ms',
      stickyQueueScheduleToStartTimeout: '1s',
      interceptors: { activity: [holdAtBoundary] },
    },
    beforeRun: waitForGo,
  }).catch((error: unknown) => {
    process.stderr.write(`chaos worker failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
