/**
 * When a plan needs approval, decided from what it does: destructive or irreversible steps,
 * operations that remove access, operations that give access back or change many accounts at
 * once whenever they change anything, and what the worker's policy always asks for. Pure: the
 * approval gate and the plan preview decide the same way.
 */
import type { ApprovalPolicy } from './approval';
import type { Plan } from './plan';
import type { Operation } from './runbooks';

/** Operations destructive by nature: they always need approval. */
export const DESTRUCTIVE_BY_NATURE: readonly Operation[] = ['revoke', 'disable', 'changeKey'];

/**
 * Operations that need approval whenever they change anything, though nothing they do is
 * destructive: restoring access reopens data that was cut off on purpose; a fleet rotation
 * changes many accounts at once.
 */
export const GATED_WHEN_CHANGING: readonly Operation[] = ['restoreAccess', 'fleetRotate'];

/** Steps that only read (they never count as a change). */
const READ_ONLY_STEPS: readonly string[] = ['preflight', 'approval', 'probe'];

/** Whether the plan changes anything in Azure. */
export function changesAnything(plan: Plan): boolean {
  return plan.steps.some((s) => !s.skip && !READ_ONLY_STEPS.includes(s.id));
}

/**
 * Whether `plan`, approved under `operation`'s policy, needs approval. `byEffect` is the rule of
 * current runs (revoke, disable and changeKey always ask); runs recorded before it (replaying
 * without the destructive-by-effect patch) ask only when a destructive step is planned.
 */
export function approvalRequired(
  plan: Plan,
  operation: Operation,
  policy: ApprovalPolicy,
  byEffect = true,
): boolean {
  const byNature = byEffect
    ? DESTRUCTIVE_BY_NATURE.includes(operation)
    : DESTRUCTIVE_BY_NATURE.includes(operation) && plan.steps.some((s) => s.destructive && !s.skip);
  return (
    byNature ||
    plan.destructive ||
    plan.irreversible.length > 0 ||
    (GATED_WHEN_CHANGING.includes(operation) && changesAnything(plan)) ||
    (policy.alwaysApprove ?? []).includes(operation)
  );
}
