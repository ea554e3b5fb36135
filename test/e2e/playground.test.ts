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
import { LEE, MEGAN, startPlaygroundStack, type PlaygroundStack } from './playground-stack';

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
  });
}
