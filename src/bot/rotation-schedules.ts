/**
 * `schedule-rotation` and `unschedule-rotation`: an account's Temporal Schedule that starts its
 * scheduled-rotation run. An existing schedule is replaced only when asked, and is described
 * (cadence, owner) either way.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, type Client } from '@temporalio/client';
import type { ScheduleDescription } from '@temporalio/client';
import type { AccountRef } from '../shared/accounts';
import { formatDuration } from '../shared/duration';
import { ValidationError } from '../shared/names';
import { ScheduleExists } from '../shared/refusals';
import {
  MIN_ROTATION_EVERY,
  MIN_ROTATION_EVERY_MS,
  SCHEDULE_REQUESTER,
  SCHEDULED_ROTATION_WORKFLOW,
  scheduleIdFor,
  searchAttributesFor,
  type ScheduledRotationInput,
} from '../shared/start';
import { rulesMemo } from '../shared/rules';

/** A rotation schedule as set up, and the one it replaced. */
export interface ScheduledRotation {
  scheduleId: string;
  replaced?: ExistingSchedule;
}

/** What an account's rotation schedule is: its cadence and who set it up. */
export interface ExistingSchedule {
  everyInMs?: number;
  owner?: string;
}

/**
 * Creates the account's rotation schedule on `taskQueue`. An existing one is replaced only with
 * `replace` (and described in the result); otherwise {@link ScheduleExists} says what is there.
 */
export async function scheduleRotation(
  client: Client,
  taskQueue: string,
  input: ScheduledRotationInput,
  everyInMs: number,
  { replace = false }: { replace?: boolean } = {},
): Promise<ScheduledRotation> {
  if (everyInMs < MIN_ROTATION_EVERY_MS) {
    throw new ValidationError('--every', `at least ${MIN_ROTATION_EVERY}`, formatDuration(everyInMs));
  }
  const scheduleId = scheduleIdFor(input.account);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: SCHEDULED_ROTATION_WORKFLOW,
    workflowId: `${scheduleId}/run`,
    taskQueue,
    args: [{ ...input, everyMs: everyInMs }],
    // Scheduled runs are searchable like chat-started ones; their rotateKey children inherit these.
    typedSearchAttributes: searchAttributesFor('rotate', input.account, SCHEDULE_REQUESTER),
    staticSummary: `Scheduled rotation · ${input.account.name}`,
    memo: rulesMemo(),
  };
  const spec = { intervals: [{ every: everyInMs }] };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: 'SKIP' } });
    return { scheduleId };
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(scheduleId);
  const existing = describeSchedule(await handle.describe());
  if (!replace) throw scheduleExists(input.account.name, existing);
  await handle.update((previous) => ({ ...previous, spec, action }));
  return { scheduleId, replaced: existing };
}

/** Deletes the account's rotation schedule; false when there was none. */
export async function unscheduleRotation(client: Client, account: AccountRef): Promise<boolean> {
  try {
    await client.schedule.getHandle(scheduleIdFor(account)).delete();
    return true;
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return false;
    throw error;
  }
}

/** The refusal to replace a schedule unasked: what is there, and the two ways on. */
function scheduleExists(accountName: string, existing: ExistingSchedule): ScheduleExists {
  const what = [
    existing.everyInMs ? `every ${formatDuration(existing.everyInMs)}` : '',
    existing.owner ? `set up by ${existing.owner}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return new ScheduleExists(
    `${accountName} already has a rotation schedule${what ? ` (${what})` : ''}; nothing changed. Add --replace to replace it, or unschedule-rotation ${accountName} to stop it.`,
  );
}

/** An existing schedule's cadence and owner, as far as its description says. */
function describeSchedule(description: ScheduleDescription): ExistingSchedule {
  const everyInMs = description.spec.intervals?.[0]?.every;
  const action = description.action;
  const args =
    action.type === 'startWorkflow' ? (action.args as ScheduledRotationInput[] | undefined) : undefined;
  const owner = args?.[0]?.owner?.name;
  return { ...(everyInMs ? { everyInMs } : {}), ...(owner ? { owner } : {}) };
}
