/**
 * Helpers for runs that start per-account children (schedules, fleets).
 */
import type { SearchAttributePair } from '@temporalio/common';
import { workflowInfo } from '@temporalio/workflow';
import { SA } from '../shared/runbooks';

/** The child's search attributes, only when the parent has them (i.e. they are registered). */
export function childSearchAttributes(pairs: SearchAttributePair[]): SearchAttributePair[] | undefined {
  return workflowInfo().typedSearchAttributes.get(SA.operation) === undefined ? undefined : pairs;
}
