/**
 * `plan <operation> <account>`: the plan of an operation without running it. A short workflow
 * (`planOperation`, never under the account's workflow id, so it takes no lock) verifies the
 * bot's signed start, runs the read-only `inspect` on the worker and returns the plan with what
 * its approval would need. Pure: the bot, the workflow and tests share it.
 */
import type { AccountRef } from './accounts';
import type { OperationRequest } from './activities';
import type { Plan } from './plan';
import type { Operation, RunContext } from './runbooks';
import type { InputByOperation } from './start';
import { startTargetOf } from './start';

/** The workflow type of a plan preview. */
export const PLAN_WORKFLOW = 'planOperation';

/** Operations on one account that can be previewed. */
export const PLANNABLE_OPERATIONS = [
  'configure',
  'rotate',
  'changeKey',
  'updateVersion',
  'revoke',
  'restoreAccess',
  'disable',
] as const satisfies readonly Operation[];
export type PlannableOperation = (typeof PLANNABLE_OPERATIONS)[number];

/** Input of `planOperation`. */
export interface PlanOperationInput extends RunContext {
  operation: PlannableOperation;
  account: AccountRef;
  request: OperationRequest;
}

/** What a preview returns: the plan and its approval, or why there is none. */
export interface PlanPreview {
  plan?: Plan;
  /** A failure that stopped the preview (account not found, no access …), in words. */
  failure?: { type: string; message: string };
  /** A refusal of the start itself (unsigned, another tenant, requester not allowed). */
  refusal?: { type: string; message: string };
  /** What running the operation would need. */
  approval?: { required: boolean; operation: Operation; quorum: number; approvers: string[] };
}

/** The target a preview's start proof names: the account, marked as a preview so it can start nothing else. */
export function planTargetOf(account: AccountRef): string {
  return `plan:${startTargetOf(account)}`;
}

/** A preview's workflow id: outside the accounts' `cmk/…` ids, unique per request. */
export function planWorkflowId(account: AccountRef, nonce: string): string {
  return `cmk-plan/${account.name.toLowerCase()}/${nonce}`;
}

/** What an operation's run input asks `inspect` to plan (the same request the runbook makes). */
export function requestOf<O extends PlannableOperation>(
  operation: O,
  input: InputByOperation[O],
): OperationRequest {
  const i = input;
  switch (operation) {
    case 'configure': {
      const c = i as InputByOperation['configure'];
      return { operation, vault: c.vault, key: c.key, identity: c.identity, pinVersion: c.pinVersion };
    }
    case 'changeKey': {
      const c = i as InputByOperation['changeKey'];
      return {
        operation,
        ...(c.vault ? { vault: c.vault } : {}),
        key: c.key,
        ...(c.pinVersion === undefined ? {} : { pinVersion: c.pinVersion }),
      };
    }
    case 'revoke': {
      const r = i as InputByOperation['revoke'];
      return {
        operation,
        disableKey: r.disableKey === true,
        ...(r.confirmWithin ? { confirmWithin: r.confirmWithin } : {}),
      };
    }
    case 'updateVersion':
      return { operation, target: (i as InputByOperation['updateVersion']).target };
    default:
      return { operation };
  }
}
