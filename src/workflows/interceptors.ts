/**
 * The runbooks' own workflow interceptor, bundled with every worker (src/workflow-bundle.ts): the
 * search attributes one workflow task changes go to Temporal as one upsert.
 *
 * Each `upsertSearchAttributes` is a command of its own: an `UpsertWorkflowSearchAttributes`
 * event in history and a visibility write on the server (a CPU profile of the dev server during a
 * fleet put visibility at a fifth of its CPU, most of it these upserts). A run changes several
 * attributes at one step (its vault and its stage; its outcome and `done`), and Temporal applies
 * a task's commands together anyway, so nothing can see the attributes between them. Only runs
 * started under rules that hold `coalesced-search-attributes` do this; the others, and their
 * replays, keep one upsert per call.
 */
import type {
  ConcludeActivationInput,
  ConcludeActivationOutput,
  Next,
  WorkflowInterceptors,
  WorkflowInternalsInterceptor,
} from '@temporalio/workflow';
import { RULES_ONLY } from '../shared/rules';
import { heldByRules } from './patches';

type Command = ConcludeActivationInput['commands'][number];
type Upsert = NonNullable<Command['upsertWorkflowSearchAttributes']>;
type Fields = NonNullable<NonNullable<Upsert['searchAttributes']>['indexedFields']>;

/**
 * `commands` with every search-attribute upsert merged into the first, in place of it: later
 * values of the same attribute win, as they would have one upsert after another.
 */
export function oneUpsert(commands: readonly Command[]): Command[] {
  const upserts = commands.filter((c) => c.upsertWorkflowSearchAttributes);
  if (upserts.length < 2) return [...commands];
  const fields: Fields = {};
  for (const c of upserts)
    Object.assign(fields, c.upsertWorkflowSearchAttributes?.searchAttributes?.indexedFields);
  const first = upserts[0]!;
  const merged: Command = {
    ...first,
    upsertWorkflowSearchAttributes: {
      ...first.upsertWorkflowSearchAttributes,
      searchAttributes: { indexedFields: fields },
    },
  };
  return commands.flatMap((c) => (c === first ? [merged] : c.upsertWorkflowSearchAttributes ? [] : [c]));
}

/** Merges each activation's upserts when the run's rules say so (asked once per run). */
class OneUpsertPerTask implements WorkflowInternalsInterceptor {
  private coalesce?: boolean;

  concludeActivation(
    input: ConcludeActivationInput,
    next: Next<WorkflowInternalsInterceptor, 'concludeActivation'>,
  ): ConcludeActivationOutput {
    const output = next(input);
    this.coalesce ??= heldByRules(RULES_ONLY.coalescedSearchAttributes);
    return this.coalesce ? { ...output, commands: oneUpsert(output.commands) } : output;
  }
}

/** Temporal's factory: one interceptor per run. */
export const interceptors = (): WorkflowInterceptors => ({ internals: [new OneUpsertPerTask()] });
