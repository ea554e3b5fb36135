import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ACCOUNT_NOTE } from '../../src/bot/cards/render';
import { COMMAND_FORMS } from '../../src/bot/commands';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import { statusQuery } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { anyMemberMayRequest } from '../helpers/trust';
import { clientsFor } from '../local-azure/clients';
import { cmkAccountOn } from '../local-azure/fixtures';
import { LEE, MEGAN, startPlaygroundStack, until, type PlaygroundStack } from './playground-stack';

// The Playground half of issue 14's option surface, on the default bot SDK (both SDKs answer the
// same commands over HTTP in test/bot/option-commands.test.ts).
describe('the new commands as a person sees them in the Microsoft 365 Agents Playground (botbuilder)', () => {
  let stack: PlaygroundStack;
  let page: Page;
  before(async () => {
    stack = await startPlaygroundStack('botbuilder', (tenantId) => {
      const both = [MEGAN.aadObjectId, LEE.aadObjectId];
      return {
        approvers: { revoke: both, restoreAccess: both, fleetRotate: both },
        quorum: {},
        deadline: '1h',
        tenantId,
        requesters: anyMemberMayRequest(),
      };
    });
    page = stack.page;
  });
  after(async () => {
    await stack?.close();
  });

  const newAccount = (): AccountRef => {
    const ref = {
      subscriptionId: stack.azure.subscriptionIds[0]!,
      resourceGroup: 'rg-storage',
      name: `st${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    };
    stack.azure.state.addStorageAccount(ref);
    return ref;
  };
  /** Megan (the requester) clicks Approve and is refused; the refusal names the card's message, which Lee then approves. */
  const approveAsLee = async (workflowId: string): Promise<void> => {
    const refused = stack.refusals.length;
    await page.getByRole('button', { name: 'Refresh', exact: true }).last().click();
    await page.getByRole('button', { name: 'Approve', exact: true }).last().click();
    await until('the own-request refusal', async () => (stack.refusals.length > refused ? true : undefined));
    const status = await stack.client.workflow.getHandle(workflowId).query(statusQuery);
    const response = await stack.invokeAs(LEE, 'group-chat-id', stack.refusals.at(-1)?.messageId, 'approve', {
      workflowId,
      runId: status.runId,
      fingerprint: status.plan?.fingerprint,
    });
    assert.ok(response.ok, `the playground refused Lee's click: ${response.status}`);
  };

  test('when help is typed, then every command shows with its placeholders as written', async () => {
    await stack.say('Personal Chat', 'help');
    await page
      .getByText('plan <operation> <account> [options of that operation]', { exact: true })
      .last()
      .waitFor({ timeout: 30_000 });
    for (const { usage, description } of COMMAND_FORMS) {
      await page.getByText(usage, { exact: true }).last().waitFor({ timeout: 5_000 });
      await page.getByText(description, { exact: true }).last().waitFor({ timeout: 5_000 });
    }
    await page.getByText(ACCOUNT_NOTE, { exact: true }).last().waitFor({ timeout: 5_000 });
    await page.screenshot({ path: stack.shot('options-1-help.png'), fullPage: true });
  });

  test('when plan is typed, then the plan card shows the steps and who else is affected, and nothing starts', async () => {
    const account = newAccount();
    await cmkAccountOn(stack.azure, account.name);
    await stack.say('Personal Chat', `plan revoke ${account.name} --disable-key`);
    await page.getByText('Plan only · not started').last().waitFor({ timeout: 60_000 });
    await page
      .getByText(/Also affected/)
      .last()
      .waitFor({ timeout: 5_000 });
    await page
      .getByText(new RegExp(`type: revoke ${account.name} --disable-key`))
      .last()
      .waitFor({ timeout: 5_000 });
    await page.screenshot({ path: stack.shot('options-2-plan.png'), fullPage: true });
    await assert.rejects(stack.client.workflow.getHandle(workflowIdFor(account)).describe(), {
      name: 'WorkflowNotFoundError',
    });
  });

  test('when restore-access is asked after a revoke, then the card shows the undo steps, a second member approves and the card shows access back', async () => {
    const account = newAccount();
    const { vaultName, keyName, version } = await cmkAccountOn(stack.azure, account.name);
    await clientsFor(stack.azure).keys(vaultName).updateKeyProperties(keyName, version, { enabled: false });
    await stack.say('Storage owners', `restore-access ${account.name}`);
    await page.getByText('Waiting for approval').last().waitFor({ timeout: 60_000 });
    await page
      .getByText(/Re-enable key version/)
      .last()
      .waitFor({ timeout: 5_000 });
    await page.screenshot({ path: stack.shot('options-3-restore-asks.png'), fullPage: true });
    await approveAsLee(workflowIdFor(account));
    const result = (await stack.client.workflow.getHandle(workflowIdFor(account)).result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    await page
      .getByText(/reaches its key again/)
      .last()
      .waitFor({ timeout: 30_000 });
    await page.screenshot({ path: stack.shot('options-4-restore-done.png'), fullPage: true });
  });

  test('when a fleet is rotated by tag, then one card lists the accounts, one approval starts them and the card shows their progress to the end', async () => {
    const tag = `t${randomUUID().slice(0, 6)}`;
    const accounts = [newAccount(), newAccount()];
    for (const a of accounts) {
      await cmkAccountOn(stack.azure, a.name, { pinned: true });
      await clientsFor(stack.azure).storage.storageAccounts.update(a.resourceGroup, a.name, {
        tags: { team: tag },
      });
    }
    await stack.say('Storage owners', `rotate-fleet --tag team=${tag}`);
    await page.getByText('Accounts: 2 to rotate, 0 skipped (of 2)').last().waitFor({ timeout: 60_000 });
    await page.screenshot({ path: stack.shot('options-5-fleet-plan.png'), fullPage: true });
    const fleetId = await until('the fleet run', async () => {
      for await (const run of stack.client.workflow.list({ query: 'WorkflowType = "fleetRotate"' }))
        if (run.status.name === 'RUNNING') return run.workflowId;
      return undefined;
    });
    await approveAsLee(fleetId);
    await page
      .getByText(/Progress: 2 of 2 done \(2 succeeded\)/)
      .last()
      .waitFor({ timeout: 60_000 });
    await page
      .getByText(/Rotate the keys of 2 account\(s\), .* — 2 succeeded/)
      .last()
      .waitFor({ timeout: 5_000 });
    for (const a of accounts)
      await page
        .getByText(new RegExp(`${a.name} — Rotated`))
        .last()
        .waitFor({ timeout: 5_000 });
    await page.screenshot({ path: stack.shot('options-6-fleet-done.png'), fullPage: true });
  });
});
