import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { conversationRefFor } from '../../src/shared/chat';
import { scheduleIdFor, type ScheduledRotationInput } from '../../src/shared/start';
import { SDKS } from './channel';
import { cardText, chatWith, eventually, chatPolicy, startChatStack } from './chat-stack';
import { beforeAll } from '../kit/suite';
import { APPROVER, REQUESTER } from './fixtures';

describe('rotation schedules from chat (issue 14, measurement 6)', () => {
  const stack = beforeAll(() => startChatStack({ names: [APPROVER] }));
  const policy = chatPolicy({
    approvers: { configure: [APPROVER.aadObjectId], rotate: [APPROVER.aadObjectId] },
    alwaysApprove: [],
  });

  const scheduleOf = (account: { subscriptionId: string; resourceGroup: string; name: string }) =>
    stack.client.schedule.getHandle(scheduleIdFor(account));
  const everyOf = async (account: Parameters<typeof scheduleOf>[0]) =>
    (await scheduleOf(account).describe()).spec.intervals?.[0]?.every;

  for (const sdk of SDKS) {
    test(`when a cadence is under the minimum, or a schedule exists and --replace is not said (${sdk}), then a specific error card answers and nothing changes; with --replace the answer says what it replaced`, async () => {
      const side = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        const writes = stack.azure.requestLog.writes().length;

        const tooOften = await chat.say(REQUESTER, `schedule-rotation ${account.name} --every 5s`);
        assert.match(tooOften.text, /I could not read that command/);
        assert.match(tooOften.text, /--every: at least 7d \(got "5s"\)/);
        await assert.rejects(scheduleOf(account).describe(), { name: 'ScheduleNotFoundError' });

        assert.match(
          (await chat.say(REQUESTER, `schedule-rotation ${account.name} --every 30d`)).text,
          new RegExp(`${account.name} will be rotated every 30d; each rotation reports here`),
        );
        const again = await chat.say(APPROVER, `schedule-rotation ${account.name} --every 90d`);
        assert.match(again.text, /Already scheduled/);
        assert.match(
          again.text,
          new RegExp(
            `${account.name} already has a rotation schedule \\(every 30d, set up by ${REQUESTER.name}\\); nothing changed\\. Add --replace to replace it`,
          ),
        );
        assert.equal(await everyOf(account), 30 * 86_400_000);

        const replaced = await chat.say(APPROVER, `schedule-rotation ${account.name} --every 90d --replace`);
        assert.match(
          replaced.text,
          new RegExp(
            `${account.name} will be rotated every 90d, replacing its schedule \\(every 30d, set up by ${REQUESTER.name}\\)`,
          ),
        );
        assert.equal(await everyOf(account), 90 * 86_400_000);
        const description = await scheduleOf(account).describe();
        const args =
          description.action.type === 'startWorkflow'
            ? (description.action.args as ScheduledRotationInput[])
            : [];
        assert.equal(
          args[0]?.owner?.name,
          APPROVER.name,
          'the schedule now reports as the person who replaced it',
        );
        assert.equal(args[0]?.everyMs, 90 * 86_400_000, 'a busy tick knows how long it may retry');
        assert.equal(
          stack.azure.requestLog.writes().length - writes,
          0,
          'scheduling writes nothing to Azure',
        );
        await scheduleOf(account).delete();
      } finally {
        await side.stop();
      }
    });

    test(`when a schedule fires after the worker's policy and approvals conversation changed (${sdk}), then the rotation follows what the worker says now, not what it said when the schedule was set up`, async () => {
      const side = await stack.startSide(sdk, { policy: { ...policy, alwaysApprove: ['configure'] } });
      let later = side;
      try {
        const chat = chatWith(stack, () => later);
        const account = stack.newAccount();
        // An account on customer-managed keys for the schedule to rotate, configured from chat.
        await chat.say(REQUESTER, `configure ${account.name}`);
        const configure = await chat.approvalCard();
        await chat.click(APPROVER, 'approve', configure.messageId, configure.data);
        await chat.cardShowing(configure.messageId, '✅ Succeeded');
        await stack.client.workflow.getHandle(account.workflowId).result();
        assert.match(
          (await chat.say(REQUESTER, `schedule-rotation ${account.name} --every 30d`)).text,
          /will be rotated every 30d/,
        );
        await side.stop();

        const custodiansId = `19:custodians-${randomUUID().slice(0, 8)}@thread.v2`;
        later = await stack.startSide(sdk, {
          policy: { ...policy, alwaysApprove: ['rotate'] },
          taskQueue: side.taskQueue,
          trust: {
            approvals: {
              conversation: conversationRefFor(custodiansId, stack.connector.serviceUrl, stack.tenantId),
              name: 'Key Custodians',
            },
          },
        });
        const custodians = chatWith(stack, () => later, {
          conversation: { id: custodiansId, conversationType: 'groupChat' },
        });
        await scheduleOf(account).trigger();

        const request = await custodians.approvalCard();
        assert.match(cardText(request.card), new RegExp(`Rotate key · ${account.name}`));
        assert.match(cardText(request.card), /Your approval is requested: <at>Megan Bowen<\/at>/);
        await eventually('the schedule’s chat shows the rotation waiting', () =>
          [...chat.cards().values()].find((c) => /Rotate key[\s\S]*Waiting for approval/.test(cardText(c))),
        );
        await stack.client.workflow.getHandle(account.workflowId).terminate('test done');
        await scheduleOf(account).delete();
      } finally {
        await later.stop();
      }
    });
  }
});
