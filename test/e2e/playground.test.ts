import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { Page } from 'playwright-core';
import type { LocalAzure } from '../../src/local-azure';
import { workflowIdFor } from '../../src/shared/accounts';
import { statusQuery } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { SDKS } from '../bot/channel';
import { anyMemberMayRequest } from '../helpers/trust';
import { LEE, MEGAN, startPlaygroundStack, until, type PlaygroundStack } from './playground-stack';

for (const sdk of SDKS) {
  describe(`end to end through the Microsoft 365 Agents Playground (${sdk})`, () => {
    let stack: PlaygroundStack;
    let azure: LocalAzure;
    let client: Client;
    let page: Page;
    let refusals: PlaygroundStack['refusals'];
    const shot = (name: string) => stack.shot(name);

    before(async () => {
      stack = await startPlaygroundStack(sdk, (tenantId) => ({
        approvers: { configure: [MEGAN.aadObjectId, LEE.aadObjectId] },
        quorum: {},
        deadline: '1h',
        tenantId,
        alwaysApprove: ['configure'],
        requesters: anyMemberMayRequest(),
      }));
      ({ azure, client, page, refusals } = stack);
    });

    after(async () => {
      await stack?.close();
    });

    test('when configure is typed in a group chat with an @mention, then the card asks for approval, the requester is refused, a second member approves and the card shows the outcome', async () => {
      const name = `st${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      const subscription = azure.subscriptionIds[0]!;
      azure.state.addStorageAccount({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
      const workflowId = workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });

      await stack.say('Storage owners', `configure ${name}`);
      await page.getByText('Waiting for approval').first().waitFor({ timeout: 60_000 });
      await page.screenshot({ path: shot('1-approval-card.png') });

      await page.getByRole('button', { name: 'Refresh', exact: true }).last().click();
      await page.getByRole('button', { name: 'Approve', exact: true }).last().click();
      await page
        .getByText('You requested this run; someone else must approve it.')
        .first()
        .waitFor({ timeout: 30_000 });
      await page.screenshot({ path: shot('2-own-request-refused.png') });

      const status = await client.workflow.getHandle(workflowId).query(statusQuery);
      const response = await stack.invokeAs(LEE, 'group-chat-id', refusals.at(-1)?.messageId, 'approve', {
        workflowId,
        runId: status.runId,
        fingerprint: status.plan?.fingerprint,
      });
      assert.ok(
        response.ok,
        `the playground refused Lee's click: ${response.status} ${await response.text()}`,
      );

      const result = (await client.workflow.getHandle(workflowId).result()) as RunResult;
      assert.equal(result.outcome, 'succeeded', result.message);
      const account = azure.state.getStorageAccount(subscription, 'rg-storage', name) as {
        properties: { encryption: { keySource: string } };
      };
      assert.equal(account.properties.encryption.keySource, 'Microsoft.Keyvault');
      await page.getByText('Succeeded').first().waitFor({ timeout: 30_000 });
      await page.getByText(`${LEE.name} approved`).first().waitFor({ timeout: 10_000 });
      await page.screenshot({ path: shot('3-outcome.png') });
    });

    test('when an error card names a placeholder such as <account>, in the problem and in the right form, then the card shows it as written, not as markup', async () => {
      await stack.say('Personal Chat', 'rotate StContoso');
      await page
        .getByText('<account>: a storage account name is 3–24 lowercase letters and digits (got "StContoso")')
        .last()
        .waitFor({ timeout: 30_000 });
      await page.getByText('rotate <account>', { exact: true }).last().waitFor({ timeout: 10_000 });
      await page.screenshot({ path: shot('4-placeholder-visible.png') });
    });

    /** A new storage account in the local Azure, with the id of the run it would get. */
    function newAccount(): { name: string; subscription: string; workflowId: string } {
      const name = `st${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      const subscription = azure.subscriptionIds[0]!;
      azure.state.addStorageAccount({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
      return {
        name,
        subscription,
        workflowId: workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name }),
      };
    }

    function keySourceOf(account: { name: string; subscription: string }): string {
      const found = azure.state.getStorageAccount(account.subscription, 'rg-storage', account.name) as {
        properties: { encryption: { keySource: string } };
      };
      return found.properties.encryption.keySource;
    }

    test('when Megan asks for configure in her chat and then types cancel, then the card follows the run to Cancelled by her, Azure is untouched and the account is free for the next run', async () => {
      const account = newAccount();
      await stack.say('Personal Chat', `configure ${account.name}`);
      await page.getByText('Waiting for approval').last().waitFor({ timeout: 60_000 });

      await stack.say('Personal Chat', `cancel ${account.name}`);
      const cancelled = (await client.workflow.getHandle(account.workflowId).result()) as RunResult;
      assert.equal(cancelled.outcome, 'cancelled', cancelled.message);
      assert.match(cancelled.message, new RegExp(`Cancelled by ${MEGAN.name} before any change`));
      // The request's own card is edited by the run to its end; the answer to cancel says so too.
      await page
        .getByText(`Cancelled by ${MEGAN.name} before any change`)
        .last()
        .waitFor({ timeout: 30_000 });
      await page.getByText('Ending: cancelled').last().waitFor({ timeout: 10_000 });
      assert.equal(await page.getByText('Waiting for approval').count(), 0, 'no card still waits');
      assert.equal(keySourceOf(account), 'Microsoft.Storage', 'nothing changed in Azure');
      await page.screenshot({ path: shot('5-cancelled.png') });

      // The lock is released: the same account takes a new request at once.
      await stack.say('Personal Chat', `configure ${account.name}`);
      await page.getByText('Waiting for approval').last().waitFor({ timeout: 60_000 });
      await client.workflow.getHandle(account.workflowId).terminate('test done');
    });

    test('when a colleague asks in the group chat and Megan, an approver, rejects from the card without pressing Refresh, then the card follows the run to Rejected', async () => {
      const account = newAccount();
      await page.getByText('Storage owners').first().click();
      const rejectButtons = page.getByRole('button', { name: 'Reject', exact: true });
      const before = await rejectButtons.count();
      // Lee types the command in the group chat: the activity Teams would send for him.
      const mention = '<at>cmk-runbook</at>';
      const asked = await fetch(`${stack.botUrl}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'message',
          id: randomUUID(),
          timestamp: new Date().toISOString(),
          channelId: 'msteams',
          serviceUrl: stack.serviceUrl,
          from: { id: LEE.id, name: LEE.name, aadObjectId: LEE.aadObjectId },
          conversation: {
            id: 'group-chat-id',
            conversationType: 'groupChat',
            isGroup: true,
            tenantId: azure.tenantId,
          },
          recipient: { id: '00000000-0000-4000-8000-0000000000b0', name: 'cmk-runbook' },
          text: `${mention} configure ${account.name}`,
          textFormat: 'plain',
          entities: [
            {
              type: 'mention',
              text: mention,
              mentioned: { id: '00000000-0000-4000-8000-0000000000b0', name: 'cmk-runbook' },
            },
          ],
          channelData: { tenant: { id: azure.tenantId } },
        }),
      });
      assert.ok(asked.ok, `the bot refused Lee's command: ${asked.status}`);

      // The Playground cannot look members up, so the card everyone sees carries the buttons.
      await until('the approval card shows Megan a Reject button', async () =>
        (await rejectButtons.count()) > before ? true : undefined,
      );
      await page.screenshot({ path: shot('6-approver-buttons.png') });
      await rejectButtons.last().click();

      const result = (await client.workflow.getHandle(account.workflowId).result()) as RunResult;
      assert.equal(result.outcome, 'rejected', result.message);
      await page.getByText(`${MEGAN.name} rejected`).last().waitFor({ timeout: 30_000 });
      await page.getByText('🚫 Rejected').last().waitFor({ timeout: 30_000 });
      assert.equal(await rejectButtons.count(), before, 'the decided card has no buttons left');
      assert.equal(keySourceOf(account), 'Microsoft.Storage', 'nothing changed in Azure');
      await page.screenshot({ path: shot('7-rejected.png') });
    });
  });
}
