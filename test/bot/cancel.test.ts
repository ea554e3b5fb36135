import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SA, type RunResult } from '../../src/shared/runbooks';
import { temporalAddress } from '../chaos/temporal-address';
import { temporalCli } from '../helpers/temporal-cli';
import { SDKS } from './channel';
import { actionsOf, cardText, chatWith, eventually, chatPolicy, startChatStack } from './chat-stack';
import { beforeAll } from '../kit/suite';
import { APPROVER, REQUESTER } from './fixtures';

const OUTSIDER = { aadObjectId: '00000000-0000-0000-0000-0000000000f1', name: 'Oscar Outsider' };

describe('cancel: a request withdrawn from chat or from Temporal (issue 14, measurement 2)', () => {
  const stack = beforeAll(() => startChatStack());
  const policy = chatPolicy({
    approvers: { configure: [APPROVER.aadObjectId] },
    deadline: '24h',
  });

  const writes = (): number => stack.azure.requestLog.writes().length;

  for (const sdk of SDKS) {
    test(`when the requester cancels their pending request (${sdk}), then an outsider could not, the run ends cancelled with no Azure write, its card, status, runs and CmkOutcome say so, and the account takes a new request`, async () => {
      const side = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        const handle = stack.client.workflow.getHandle(account.workflowId);
        const before = writes();
        assert.match((await chat.say(REQUESTER, `configure ${account.name}`)).text, /Started/);
        const { messageId } = await chat.approvalCard();

        const refused = await chat.say(OUTSIDER, `cancel ${account.name}`);
        assert.match(refused.text, /Not yours to cancel/);
        assert.match(
          refused.text,
          new RegExp(
            `Only ${REQUESTER.name} or an approver of Configure CMK may cancel Configure CMK on ${account.name}\\.`,
          ),
        );
        assert.equal((await handle.describe()).status.name, 'RUNNING');

        const answer = await chat.say(REQUESTER, `cancel ${account.name}`);
        assert.match(answer.text, /↩️ Cancelled/);
        assert.match(answer.text, new RegExp(`Cancelled by ${REQUESTER.name}`));
        // The answer comes before the run has ended: it no longer says it waits, nor what it would have done.
        assert.match(answer.text, /Stage\nEnding: cancelled/);
        assert.doesNotMatch(answer.text, /Waiting for approval|After[\s\S]*Customer-managed/);

        const result = (await handle.result()) as RunResult;
        assert.equal(result.outcome, 'cancelled');
        assert.match(result.message, new RegExp(`Cancelled by ${REQUESTER.name} before any change`));
        assert.equal(writes() - before, 0, 'a cancelled configure wrote nothing to Azure');
        assert.equal(stack.keySourceOf(account), 'Microsoft.Storage');

        const card = await chat.cardShowing(messageId, /Cancelled by .* before any change/);
        assert.equal(card.refresh, undefined, 'the finished card refreshes for nobody');
        assert.deepEqual(actionsOf(card), ['Open in Temporal UI']);
        assert.doesNotMatch(cardText(card), /Waiting for approval/);

        const status = await chat.say(REQUESTER, `status ${account.name}`);
        assert.match(status.text, /↩️ Cancelled/);
        assert.doesNotMatch(status.text, /Waiting for approval/);
        const described = await handle.describe();
        assert.equal(described.typedSearchAttributes.get(SA.outcome), 'cancelled');
        assert.equal(described.typedSearchAttributes.get(SA.approval), 'cancelled');
        const runs = await chat.say(REQUESTER, 'runs');
        assert.match(
          runs.text,
          new RegExp(`Configure CMK · ${account.name}[^\\n]*\\n[^]*?↩️ Cancelled · started`),
        );

        const mark = chat.sent().length;
        assert.match((await chat.say(REQUESTER, `configure ${account.name}`)).text, /Started/);
        await chat.approvalCard(mark);
        assert.match((await chat.say(APPROVER, `cancel ${account.name}`)).text, /Cancelled by Megan Bowen/);
        await eventually('the second run ended', async () =>
          (await handle.describe()).status.name === 'COMPLETED' ? true : undefined,
        );
        assert.match((await chat.say(REQUESTER, `cancel ${account.name}`)).text, /No run is in progress on/);
      } finally {
        await side.stop();
      }
    });

    test(`when a waiting run is cancelled with the temporal CLI (${sdk}), then the run ends cancelled in Temporal and its card and status say so instead of "Waiting for approval"`, async () => {
      const side = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        const handle = stack.client.workflow.getHandle(account.workflowId);
        await chat.say(REQUESTER, `configure ${account.name}`);
        const { messageId } = await chat.approvalCard();

        const cli = await temporalCli([
          'workflow',
          'cancel',
          '--workflow-id',
          account.workflowId,
          '--address',
          await temporalAddress(),
          '--namespace',
          'default',
        ]);
        assert.equal(cli.status, 0, cli.output);
        await eventually('the run is cancelled in Temporal', async () =>
          (await handle.describe()).status.name === 'CANCELLED' ? true : undefined,
        );

        await chat.cardShowing(messageId, /Cancelled in Temporal before any change/);
        const status = await chat.say(REQUESTER, `status ${account.name}`);
        assert.match(status.text, /↩️ Cancelled/);
        assert.doesNotMatch(status.text, /Waiting for approval/);
        assert.equal((await handle.describe()).typedSearchAttributes.get(SA.outcome), 'cancelled');
      } finally {
        await side.stop();
      }
    });
  }
});
