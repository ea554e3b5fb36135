/**
 * Runs started under a rules baseline (src/shared/rules.ts) take every patch it holds without
 * recording a marker, and end as a run that records them does; runs without one (started by an
 * earlier bot, or by hand) and runs naming a baseline this worker does not know record each marker.
 * Real dev server, real activities and SDK clients, the local Azure.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import type { RunResult } from '../../src/shared/runbooks';
import { baselinePatches, CURRENT_RULES, RULES_MEMO } from '../../src/shared/rules';
import { PEOPLE, startLocalStack, testPolicy } from '../helpers/stack';
import { startSigned } from '../helpers/trust';
import { beforeAll } from '../kit/suite';
import { configuredPinned, decide, pinnedVersion, waitForApproval } from './support';

type Events = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>;

/** The patch ids of the markers a history recorded. */
function markers(events: Events): string[] {
  return events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const payload =
      marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0] : undefined;
    return payload ? [defaultPayloadConverter.fromPayload<{ id: string }>(payload).id] : [];
  });
}

/** The search attributes an event upserts; undefined for any other event. */
const upserted = (e: Events[number]) =>
  e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? undefined;

/** How many upserts of `TemporalChangeVersion`, the search attribute the SDK sets with each marker. */
function changeVersionUpserts(events: Events): number {
  return events.filter((e) => upserted(e)?.['TemporalChangeVersion']).length;
}

/** The upserts of the runbooks' own search attributes (not the SDK's `TemporalChangeVersion`). */
function ownUpserts(events: Events): Events {
  return events.filter((e) => {
    const fields = upserted(e);
    return fields && !fields['TemporalChangeVersion'];
  });
}

/** Events other than markers and search-attribute upserts: what the run did, not how it was recorded. */
function doings(events: Events): string[] {
  return events
    .filter((e) => !e.markerRecordedEventAttributes && !e.upsertWorkflowSearchAttributesEventAttributes)
    .map((e) => String(e.eventType));
}

/** Each upsert that sets an attribute to the value the run already had, as `name=value`. */
function repeatedValues(events: Events): string[] {
  const value = (p: { data?: Uint8Array | null } | undefined): string =>
    Buffer.from(p?.data ?? []).toString();
  const current = new Map<string, string>(
    Object.entries(
      events[0]?.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields ?? {},
    ).map(([k, v]) => [k, value(v)]),
  );
  const repeated: string[] = [];
  for (const e of ownUpserts(events)) {
    for (const [k, v] of Object.entries(upserted(e) ?? {})) {
      if (current.get(k) === value(v)) repeated.push(`${k}=${value(v)}`);
      current.set(k, value(v));
    }
  }
  return repeated;
}

describe('runs started under a rules baseline', () => {
  const s = beforeAll(() => startLocalStack());
  const context = { requester: PEOPLE.requester, policy: testPolicy() };
  const pinned = (prefix: string): Promise<AccountRef> =>
    configuredPinned(s, { vault: s.vaultName('kv-rb'), keyName: 'cmk', context, prefix });

  /** Rotates `account` as the bot starts it, with `memo` in place of the bot's. */
  async function rotate(account: AccountRef, memo: Record<string, string>) {
    const handle = await startSigned(
      s.client,
      'rotate',
      { account, requester: PEOPLE.requester },
      s.taskQueue,
      { memo },
    );
    const result = (await handle.result()) as RunResult;
    const events = (await handle.fetchHistory()).events ?? [];
    return { result, events, memo: (await handle.describe()).memo };
  }

  test('when a rotation starts under the current rules, then it records no patch marker and no TemporalChangeVersion upsert, and Azure ends as after a rotation that records them all', async () => {
    const [under, without] = [await pinned('strbu'), await pinned('strbw')];
    const before = [pinnedVersion(s, under), pinnedVersion(s, without)];

    const baseline = await rotate(under, { [RULES_MEMO]: CURRENT_RULES });
    const marked = await rotate(without, {});

    for (const [run, account, was] of [
      [baseline, under, before[0]],
      [marked, without, before[1]],
    ] as const) {
      assert.equal(run.result.outcome, 'succeeded', run.result.message);
      const now = pinnedVersion(s, account);
      assert.ok(now && now !== was, `${account.name} pinned to a new version (${was} → ${now})`);
    }
    assert.deepEqual(baseline.memo, { [RULES_MEMO]: CURRENT_RULES });
    // The rules name is left in clear by the payload codec: a client without it (the CLI, a
    // script) still describes the run.
    const plain = new Client({ connection: s.env.connection });
    assert.deepEqual((await plain.workflow.getHandle(workflowIdFor(under)).describe()).memo, {
      [RULES_MEMO]: CURRENT_RULES,
    });
    assert.deepEqual(markers(baseline.events), []);
    assert.equal(changeVersionUpserts(baseline.events), 0);
    // Without rules the run asks its patches as every run before them did: a marker and an upsert each.
    const asked = markers(marked.events);
    assert.ok(asked.length >= 8, `markers recorded without rules: ${asked.join(', ')}`);
    assert.ok(
      asked.every((id) => baselinePatches(CURRENT_RULES).includes(id)),
      asked.join(', '),
    );
    assert.equal(changeVersionUpserts(marked.events), asked.length);
    // Apart from how it is recorded (markers, upserts), the run did the same.
    assert.deepEqual(doings(baseline.events), doings(marked.events));
  });

  test('when a rotation starts under the current rules, then each workflow task upserts its search attributes at most once and never to a value the run has, and the Temporal UI lists it as a run that upserts every change', async () => {
    const [under, without] = [await pinned('strbs'), await pinned('strbs')];
    const baseline = await rotate(under, { [RULES_MEMO]: CURRENT_RULES });
    const plain = await rotate(without, {});
    assert.equal(baseline.result.outcome, 'succeeded', baseline.result.message);
    assert.equal(plain.result.outcome, 'succeeded', plain.result.message);

    const perTask = new Map<string, number>();
    for (const e of ownUpserts(baseline.events)) {
      const task = String(e.upsertWorkflowSearchAttributesEventAttributes?.workflowTaskCompletedEventId);
      perTask.set(task, (perTask.get(task) ?? 0) + 1);
    }
    assert.deepEqual(
      [...perTask].filter(([, n]) => n > 1),
      [],
      'workflow tasks with more than one upsert',
    );
    assert.deepEqual(repeatedValues(baseline.events), []);
    // Without rules: one upsert per change, the stage it started with upserted again among them.
    assert.ok(
      repeatedValues(plain.events).includes('CmkStage="preflight"'),
      repeatedValues(plain.events).join(' '),
    );
    assert.ok(
      ownUpserts(baseline.events).length < ownUpserts(plain.events).length,
      `${ownUpserts(baseline.events).length} upserts under the rules, ${ownUpserts(plain.events).length} without`,
    );

    // What visibility lists (the Temporal UI's columns and filters) is the same.
    const listed = async (account: AccountRef) => {
      const { searchAttributes } = await s.client.workflow.getHandle(workflowIdFor(account)).describe();
      // Account and vault differ; `TemporalChangeVersion` is the SDK's record of the markers.
      const {
        CmkAccount: _account,
        CmkVault: vault,
        TemporalChangeVersion: _markers,
        ...rest
      } = searchAttributes;
      assert.match(String(vault), /^kv-rb-/, `${account.name}'s vault is listed`);
      return rest;
    };
    const [a, b] = [await listed(under), await listed(without)];
    assert.deepEqual(a, b);
    assert.deepEqual(
      { stage: a['CmkStage'], outcome: a['CmkOutcome'] },
      { stage: ['done'], outcome: ['succeeded'] },
    );
  });

  test('when a run names rules this worker does not know (an old or made-up name, or a name every object has, such as constructor), then it records every patch it asks, as a run without rules does', async () => {
    for (const rules of ['rules-1999-01-01', 'constructor', 'toString']) {
      const account = await pinned('strbx');
      const run = await rotate(account, { [RULES_MEMO]: rules });
      assert.equal(run.result.outcome, 'succeeded', `${rules}: ${run.result.message}`);
      assert.ok(markers(run.events).length >= 8, `${rules}: ${markers(run.events).join(', ')}`);
    }
  });

  test('when a fleet starts under the current rules and continues as new, then its children and its continued run start under them and none records a marker for a patch the rules hold', async () => {
    const accounts = [await pinned('strbf'), await pinned('strbf'), await pinned('strbf')];
    const fleet = await s.start('fleetRotate', { accounts, accountsPerRun: 2, concurrency: 2, ...context });
    await waitForApproval(fleet);
    await decide(fleet, PEOPLE.alice, 'approve');
    const result = (await fleet.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);

    const first = s.client.workflow.getHandle(fleet.workflowId, fleet.firstExecutionRunId);
    const firstEvents = (await first.fetchHistory()).events ?? [];
    const continued = firstEvents.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    assert.ok(continued, 'the first run continued as new');
    const last = s.client.workflow.getHandle(fleet.workflowId);
    assert.deepEqual((await last.describe()).memo, { [RULES_MEMO]: CURRENT_RULES });
    const lastEvents = (await last.fetchHistory()).events ?? [];
    // Patches newer than the rules are asked as `patched` until a baseline holds them: once a run.
    const held = baselinePatches(CURRENT_RULES);
    for (const events of [firstEvents, lastEvents]) {
      const recorded = markers(events);
      assert.deepEqual(
        recorded.filter((id) => held.includes(id)),
        [],
      );
      assert.equal(new Set(recorded).size, recorded.length, recorded.join(', '));
    }

    for (const account of accounts) {
      const child = s.client.workflow.getHandle(
        [...firstEvents, ...lastEvents]
          .map((e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId)
          .find((id) => id?.includes(account.name)) ?? '',
      );
      assert.deepEqual((await child.describe()).memo, { [RULES_MEMO]: CURRENT_RULES }, account.name);
      assert.deepEqual(markers((await child.fetchHistory()).events ?? []), [], account.name);
    }
  });
});
