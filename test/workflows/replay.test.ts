import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { WORKFLOW_TYPES } from '../../src/shared/runbooks';
import { PLAN_WORKFLOW } from '../../src/shared/preview';
import { SCHEDULED_ROTATION_WORKFLOW } from '../../src/shared/start';
import { baselinePatches, CURRENT_RULES, RULES_MEMO, RULES_ONLY } from '../../src/shared/rules';
import { FLEET_PLAN_PATCH, PACED_FLEET_PATCH, PATCHES } from '../../src/workflows/patches';
import { testDataConverter, workflowBundle } from '../helpers/temporal';

const DIR = path.resolve(__dirname, '..', 'histories');

/**
 * A recording, named `<workflow type>[.<case>][.<rules>][.without-<patch id>…].json`: `<rules>`
 * for a run started under a rules baseline (src/shared/rules.ts), each `without-` for a patch of
 * the current recording (the one named by neither) its run was started without. A patch id may be
 * shortened to a prefix, at a dash, that names one patch of the current recording.
 */
interface Recording {
  file: string;
  history: temporal.api.history.v1.History;
  /** The workflow type and case: what the current recording of the same kind is called. */
  kind: string;
  /** The patches of the current recording its runs were started without. */
  without: string[];
  /** The rules baseline its run was started under, if any. */
  rules?: string;
}

function load(file: string): Recording {
  const parts = file.replace(/\.json$/, '').split('.');
  return {
    file,
    history: temporal.api.history.v1.History.fromObject(
      JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as Record<string, unknown>,
    ),
    kind: parts.filter((p) => !p.startsWith('without-') && !p.startsWith('rules-')).join('.'),
    without: parts.filter((p) => p.startsWith('without-')).map((p) => p.slice('without-'.length)),
    ...(parts.some((p) => p.startsWith('rules-'))
      ? { rules: parts.find((p) => p.startsWith('rules-')) }
      : {}),
  };
}

/** The workflow id the recorded run had. */
function workflowIdOf(r: Recording): string {
  return r.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId || r.file;
}

/** The patches of `ids` that `r`'s name says its run was started without. */
function withoutOf(r: Recording, ids: string[]): string[] {
  // A long list may shorten each id to a prefix (a file name has at most 255 bytes).
  return r.without.map((w) => {
    const named = ids.filter((id) => id === w || id.startsWith(`${w}-`));
    assert.equal(named.length, 1, `${r.file}: 'without-${w}' names one patch of ${r.kind}.json`);
    return named[0]!;
  });
}

/** The ids of the `patched` markers a history recorded. */
function patchesIn(history: temporal.api.history.v1.IHistory): string[] {
  return (history.events ?? []).flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const payload =
      marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0] : undefined;
    return payload ? [defaultPayloadConverter.fromPayload<{ id: string }>(payload).id] : [];
  });
}

describe('replaying recorded runbook histories', () => {
  const recordings = readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .map(load);
  const current = new Map(
    recordings.filter((r) => r.without.length === 0 && !r.rules).map((r) => [r.kind, r]),
  );

  test('when every recorded history is replayed against the current workflow code, then none hits a determinism error', async () => {
    for (const type of [...Object.values(WORKFLOW_TYPES), SCHEDULED_ROTATION_WORKFLOW, PLAN_WORKFLOW]) {
      assert.ok(current.has(type), `a history of ${type} is recorded (npx tsx scripts/record-histories.ts)`);
    }
    const failures: string[] = [];
    let replayed = 0;
    // Each run replays under its own workflow id (a fleet's start proof names it); one at a time, in order.
    for await (const outcome of Worker.runReplayHistories(
      // As production workers read them: through the payload codec (older recordings are plain).
      { workflowBundle: await workflowBundle(), dataConverter: testDataConverter },
      recordings.map((r) => ({ workflowId: workflowIdOf(r), history: r.history })),
    )) {
      const file = recordings[replayed++]!.file;
      if (outcome.error) failures.push(`${file}: ${outcome.error.message}`);
    }
    assert.equal(replayed, recordings.length);
    assert.deepEqual(failures, []);
  });

  test('when the recordings are read, then the current ones carry every patch and each older one lacks exactly the patches its name says', () => {
    const inCurrent = new Set([...current.values()].flatMap((r) => patchesIn(r.history)));
    for (const id of Object.values(PATCHES)) {
      assert.ok(inCurrent.has(id), `a current recording carries '${id}' (re-record after adding a patch)`);
    }
    for (const older of recordings.filter((r) => r.without.length > 0 && !r.rules)) {
      const now = current.get(older.kind);
      assert.ok(now, `${older.file}: ${older.kind}.json, the current recording of its kind, exists`);
      const ids = patchesIn(now.history);
      const without = withoutOf(older, ids);
      const expected = ids.filter((id) => !without.includes(id));
      assert.deepEqual(
        { file: older.file, patches: patchesIn(older.history).sort() },
        { file: older.file, patches: expected.sort() },
      );
    }
  });

  test('when a run was recorded under a rules baseline, then it names that baseline in its start and carries markers only for the patches outside it', () => {
    const baselined = recordings.filter((r) => r.rules);
    assert.ok(
      baselined.some((r) => r.rules === CURRENT_RULES),
      `runs under ${CURRENT_RULES} are recorded (npx tsx scripts/record-histories.ts)`,
    );
    for (const r of baselined) {
      const memo = r.history.events?.[0]?.workflowExecutionStartedEventAttributes?.memo?.fields?.[RULES_MEMO];
      assert.ok(memo, `${r.file}: its start carries the ${RULES_MEMO} memo`);
      const now = current.get(r.kind);
      assert.ok(now, `${r.file}: ${r.kind}.json, the recording of its kind without rules, exists`);
      const held = baselinePatches(r.rules);
      assert.ok(held.length > 0, `${r.file}: ${String(r.rules)} is a baseline this code knows`);
      const ids = patchesIn(now.history);
      const without = withoutOf(r, ids);
      assert.deepEqual(
        { file: r.file, patches: patchesIn(r.history).sort() },
        {
          file: r.file,
          patches: ids.filter((id) => !held.includes(id) && !without.includes(id)).sort(),
        },
      );
    }
  });

  test('when the current rules are read, then every patch and rules-only change they hold is one the workflow code asks', () => {
    const asked = [
      ...Object.values(PATCHES),
      PACED_FLEET_PATCH,
      FLEET_PLAN_PATCH,
      ...Object.values(RULES_ONLY),
    ] as string[];
    assert.deepEqual(
      baselinePatches(CURRENT_RULES).filter((id) => !asked.includes(id)),
      [],
    );
  });
});
