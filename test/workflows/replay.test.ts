import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { WORKFLOW_TYPES } from '../../src/shared/runbooks';
import { SCHEDULED_ROTATION_WORKFLOW } from '../../src/shared/start';
import { workflowBundle } from '../helpers/temporal';

const DIR = path.resolve(__dirname, '..', 'histories');

describe('replaying recorded runbook histories', () => {
  test('when every recorded history is replayed against the current workflow code, then none hits a determinism error', async () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
    const recorded = new Set(files.map((f) => f.replace(/\.json$/, '')));
    for (const type of [...Object.values(WORKFLOW_TYPES), SCHEDULED_ROTATION_WORKFLOW]) {
      assert.ok(recorded.has(type), `a history of ${type} is recorded (npx tsx scripts/record-histories.ts)`);
    }
    const histories = files.map((f) => ({
      workflowId: f,
      history: temporal.api.history.v1.History.fromObject(
        JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as Record<string, unknown>,
      ),
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const outcome of Worker.runReplayHistories(
      { workflowBundle: await workflowBundle() },
      histories,
    )) {
      replayed++;
      if (outcome.error) failures.push(`${outcome.workflowId}: ${outcome.error.message}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
