/**
 * Rotation schedules of accounts that share one key, on the local Azure with the real activities:
 * the key is rotated once per period (Key Vault's rotate operation, `POST /keys/{name}/rotate`,
 * makes one version per call: learn.microsoft.com "Rotate Key - REST API") and every pinned
 * account on it is moved to that one version.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AccountRef } from '../../src/shared/accounts';
import { SCHEDULED_ROTATION_WORKFLOW } from '../../src/shared/start';
import { PEOPLE, resultOf, startLocalStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { signedScheduleInput } from '../helpers/trust';
import { configuredPinned, pinnedVersion } from './support';
import { beforeAll } from '../kit/suite';

const HOUR_MS = 3_600_000;

describe('rotation schedules of accounts that share a key', () => {
  const s = beforeAll(() => startLocalStack());

  const context = { requester: PEOPLE.requester, policy: testPolicy() };
  const configurePinned = (vault: string, keyName: string): Promise<AccountRef> =>
    configuredPinned(s, { vault, keyName, context, prefix: 'stsk' });
  const versionOf = (a: AccountRef) => pinnedVersion(s, a);
  /** A tick of `account`'s schedule with period `everyMs`, as the Schedule starts it. */
  const tick = async (account: AccountRef, everyMs: number) =>
    s.client.workflow.start(SCHEDULED_ROTATION_WORKFLOW, {
      workflowId: uniqueId('scheduled-tick'),
      taskQueue: s.taskQueue,
      args: [{ ...(await signedScheduleInput(account, PEOPLE.requester)), everyMs }],
    });
  const rotateCalls = (vault: string, keyName: string) =>
    s.local.requestLog
      .entries({ service: 'keyvault', operation: 'keys.rotate', status: 200 })
      .filter((e) => e.host.startsWith(`${vault}.`) && e.path.includes(`/keys/${keyName}/`));

  test('when three pinned accounts on one key have their schedules fire at once in the same period, then the local Azure sees one rotate of the key and all three are pinned to that one new version', async () => {
    const vault = s.vaultName('kv-sk');
    const accounts = [
      await configurePinned(vault, 'shared'),
      await configurePinned(vault, 'shared'),
      await configurePinned(vault, 'shared'),
    ];
    const before = versionOf(accounts[0]!);
    assert.equal(rotateCalls(vault, 'shared').length, 0);

    const ticks = await Promise.all(accounts.map((a) => tick(a, HOUR_MS)));
    const results = await Promise.all(ticks.map(resultOf));

    for (const r of results) assert.equal(r.outcome, 'succeeded', r.message);
    assert.equal(rotateCalls(vault, 'shared').length, 1, 'one rotate request for the whole period');
    assert.equal(s.local.state.listKeyVersions(vault, 'shared').length, 2, 'one new version');
    const after = new Set(accounts.map(versionOf));
    assert.equal(after.size, 1, `one version for all three (${[...after].join(', ')})`);
    assert.notEqual([...after][0], before);
    const messages = results.map((r) => r.message);
    assert.equal(
      messages.filter((m) => /^Rotated .*'s key to version/.test(m)).length,
      1,
      messages.join('\n'),
    );
    assert.equal(
      messages.filter((m) =>
        /which this period's rotation of its key already made \(the key was not rotated again\)/.test(m),
      ).length,
      2,
      messages.join('\n'),
    );
  });

  test("when a schedule fires after another account's schedule rotated the shared key within its period, then it moves its account to that version without rotating again, and a tick of a later period rotates anew", async () => {
    const vault = s.vaultName('kv-sk');
    const first = await configurePinned(vault, 'shared');
    const second = await configurePinned(vault, 'shared');

    assert.equal((await resultOf(await tick(first, HOUR_MS))).outcome, 'succeeded');
    const rotated = versionOf(first);
    const later = await resultOf(await tick(second, HOUR_MS));
    assert.equal(later.outcome, 'succeeded', later.message);
    assert.equal(versionOf(second), rotated);
    assert.equal(rotateCalls(vault, 'shared').length, 1);

    // A period of one second has passed since that version was made: this tick rotates again.
    await new Promise((r) => setTimeout(r, 1_500));
    const next = await resultOf(await tick(second, 1_000));
    assert.equal(next.outcome, 'succeeded', next.message);
    assert.equal(rotateCalls(vault, 'shared').length, 2);
    assert.notEqual(versionOf(second), rotated);
  });
});
