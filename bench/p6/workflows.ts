/**
 * P6's one workflow: schedules an ARM write per account on the rate-limited task queue, all at
 * once, and waits for them. Bundled for the bench only; not part of the runbooks.
 */
import { proxyActivities } from '@temporalio/workflow';

/** An account to PATCH. */
export interface WriteTarget {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** The activity the P6 workers run. */
export interface RateActivities {
  armWrite(target: WriteTarget): Promise<void>;
}

/** Writes every target once, each as an activity on `queue`; returns how many writes failed (throttled past the SDK's retries). */
export async function armWrites(input: { queue: string; targets: WriteTarget[] }): Promise<number> {
  const { armWrite } = proxyActivities<RateActivities>({
    taskQueue: input.queue,
    startToCloseTimeout: '2m',
    retry: { maximumAttempts: 1 },
  });
  const settled = await Promise.allSettled(input.targets.map((t) => armWrite(t)));
  return settled.filter((s) => s.status === 'rejected').length;
}
