/**
 * The merge the runbooks' workflow interceptor applies to a workflow task's commands under rules
 * that coalesce search-attribute upserts (src/workflows/interceptors.ts); the effect on real runs
 * is tested in rules-baseline.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { oneUpsert } from '../../src/workflows/interceptors';

type Commands = Parameters<typeof oneUpsert>[0];

const upsert = (fields: Record<string, string>) => ({
  upsertWorkflowSearchAttributes: {
    searchAttributes: {
      indexedFields: Object.fromEntries(
        Object.entries(fields).map(([k, v]) => [k, { data: Buffer.from(JSON.stringify(v)) }]),
      ),
    },
  },
});
const schedule = (activityId: string) => ({ scheduleActivity: { activityId } });
const fieldsOf = (commands: Commands) =>
  commands.map((c) =>
    c.upsertWorkflowSearchAttributes
      ? Object.fromEntries(
          Object.entries(c.upsertWorkflowSearchAttributes.searchAttributes?.indexedFields ?? {}).map(
            ([k, v]) => [k, Buffer.from(v.data ?? []).toString()],
          ),
        )
      : c.scheduleActivity?.activityId,
  );

describe('one search-attribute upsert per workflow task', () => {
  test('when a task upserts three times around other commands, then one upsert with the latest value of each attribute stands where the first was, and the other commands keep their order', () => {
    const merged = oneUpsert([
      schedule('1'),
      upsert({ CmkVault: 'kv-a', CmkStage: 'preflight' }),
      schedule('2'),
      upsert({ CmkStage: 'running' }),
      upsert({ CmkOutcome: 'succeeded', CmkStage: 'done' }),
    ]);
    assert.deepEqual(fieldsOf(merged), [
      '1',
      { CmkVault: '"kv-a"', CmkStage: '"done"', CmkOutcome: '"succeeded"' },
      '2',
    ]);
  });

  test('when a task upserts once or not at all, then its commands are unchanged', () => {
    const once = [schedule('1'), upsert({ CmkStage: 'running' })];
    assert.deepEqual(oneUpsert(once), once);
    assert.deepEqual(oneUpsert([schedule('1')]), [schedule('1')]);
  });
});
