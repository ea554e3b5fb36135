/**
 * After a rotation of a versionless account, a follow-up past Azure's daily check confirms the
 * account moved to the new version, or raises it. Azure Storage checks the vault for a new key
 * version once a day and skips a key its identity cannot read (customer-managed-keys-overview,
 * "Update the key version automatically"); the local Azure runs that check when its clock passes
 * it. Temporal's time-skipping test server skips the follow-up's 25-hour timer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import type { RunResult } from '../../src/shared/runbooks';
import { PEOPLE, resultOf, startLocalStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { onTimeSkipping } from '../kit/suite';
import { armAccount, localConfigure } from './support';

const HOUR_MS = 3_600_000;

/** The details the Temporal UI shows for a workflow (its current details, from the metadata query). */
async function uiDetails(handle: WorkflowHandle): Promise<string | undefined> {
  const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails;
}

for (const scenario of ['moved', 'skipped'] as const)
  describe(`a versionless account's pickup of a rotated key after Azure's daily check, ${scenario} (time skipping, one server per scenario)`, () => {
    const suite = onTimeSkipping((env) => startLocalStack({ env }));

    const context = (conv: string) => ({
      requester: PEOPLE.requester,
      conversation: { conversation: { id: conv } },
      policy: testPolicy(),
    });

    /** A versionless account on a new key, rotated: the version the rotation made and its follow-up. */
    async function rotated(conv: string) {
      const account = suite.stack.newAccount('stvl');
      const vault = suite.stack.vaultName('kv-vl');
      const configured = await resultOf(
        await suite.stack.start('configure', localConfigure(account, vault, 'cmk-key', context(conv))),
      );
      assert.equal(configured.outcome, 'succeeded', configured.message);
      const rotation = await resultOf(
        await suite.stack.start('rotate', { account, confirmWithin: '1s', ...context(conv) }),
      );
      assert.equal(rotation.outcome, 'succeeded', rotation.message);
      const kid = (
        suite.stack.local.state.listKeyVersions(vault, 'cmk-key').at(-1) as { key: { kid: string } }
      ).key.kid;
      const newVersion = kid.split('/').at(-1)!;
      const followUpId = `${workflowIdFor(account)}/versionless-pickup/${newVersion}`;
      assert.ok(rotation.message.includes(`follow-up ${followUpId} confirms it after 25h`), rotation.message);
      return { account, conv, newVersion, handle: suite.stack.client.workflow.getHandle(followUpId) };
    }
    const cardOf = (conv: string, account: AccountRef) =>
      suite.stack.chat
        .seen({ conversation: { id: conv } })
        .cards.find((c) => c.status.operation === 'rotate' && c.status.account.name === account.name);

    test(
      scenario === 'moved'
        ? "when Azure's daily check moves the rotated account, then the follow-up confirms it on the rotation's card, in chat and in the Temporal UI"
        : "when the account's identity lost the key so Azure's daily check skips it, then the follow-up raises it as failed with what to do, on the card, in chat and in the Temporal UI",
      async (t) => {
        if (!suite.env) return t.skip('the time-skipping test server is not installed');
        const run = await rotated(uniqueId('conv'));
        if (scenario === 'skipped') {
          const principal = armAccount(suite.stack, run.account).identity!.principalId!;
          for (const [key, assignment] of Object.entries(suite.stack.local.state.data.roleAssignments))
            if (assignment.principalId === principal) suite.stack.local.state.deleteRoleAssignment(key);
        }
        // The follow-up runs once the server skips its 25-hour timer; by the time it reads the
        // account, a day and more has passed in Azure too: its daily check has run.
        suite.stack.onNext('inspect', { before: () => suite.stack.local.clock.advance(25 * HOUR_MS) });
        const result = (await run.handle.result()) as RunResult;
        const card = cardOf(run.conv, run.account);
        const texts = suite.stack.chat.seen({ conversation: { id: run.conv } }).texts;
        if (scenario === 'moved') {
          assert.equal(result.outcome, 'succeeded', result.message);
          assert.equal(
            result.message,
            `Confirmed: Azure moved ${run.account.name} to key version ${run.newVersion} at its daily check.`,
          );
          const kid = armAccount(suite.stack, run.account).properties.encryption.keyvaultproperties
            ?.currentVersionedKeyIdentifier;
          assert.ok(kid?.endsWith(`/${run.newVersion}`), kid);
          assert.equal(await uiDetails(run.handle), `**✅ Succeeded** — ${result.message}`);
        } else {
          assert.equal(result.outcome, 'failed');
          assert.match(
            result.message,
            new RegExp(
              `^Azure did not move ${run.account.name} to key version ${run.newVersion}: a day after the rotation it still uses [0-9a-f]{32}\\. .*update-version ${run.account.name} --latest`,
            ),
          );
          assert.equal(result.errorType, 'VersionNotPickedUp');
          assert.equal(await uiDetails(run.handle), `**❌ Failed** — ${result.message}`);
        }
        assert.equal(card?.status.result?.message, result.message);
        assert.equal(card?.status.result?.outcome, result.outcome);
        assert.equal(card?.status.steps.at(-1)?.title, "Versionless pickup after Azure's daily check");
        assert.ok(texts.includes(result.message), texts.join('\n'));
      },
    );
  });
