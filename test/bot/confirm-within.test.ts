/**
 * `revoke … --confirm-within <duration>` through the bot endpoint: validated in chat (1m–24h),
 * shown on the plan and run cards as the probe step's window, and handed to the run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { workflowIdFor } from '../../src/shared/accounts';
import { statusQuery, type RunStatus } from '../../src/shared/approval';
import { cmkAccountOn } from '../local-azure/fixtures';
import { startSecurityStack, textOf, WHO, type SecurityStack } from '../security/stack';

async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

describe('the confirmation window of a revocation, typed in chat', () => {
  let s: SecurityStack;
  before(async () => {
    s = await startSecurityStack();
  });
  after(async () => {
    await s?.close();
  });

  /** Says `text` in a new personal chat; returns what the bot answered (cards as read) so far. */
  async function say(text: string, conversation = `a:personal-${randomUUID().slice(0, 8)}`) {
    const { status } = await s.post(s.activity(WHO.requester, conversation, { type: 'message', text }));
    assert.equal(status, 200);
    return () =>
      s.connector.sent
        .filter((x) => x.conversationId === conversation)
        .map((x) =>
          textOf((x.body.attachments as { content: unknown }[] | undefined)?.[0]?.content ?? x.body),
        )
        .join('\n');
  }

  test('when --confirm-within is below 1 minute, above 24 hours or not a duration, then chat says so for that option and nothing starts or writes', async () => {
    const account = s.newAccount();
    await cmkAccountOn(s.local, account.name);
    const writes = s.local.requestLog.writes().length;
    for (const [value, got] of [
      ['30s', '"30s"'],
      ['2d', '"2d"'],
      ['soon', '"soon"'],
    ] as const) {
      const reply = (await say(`revoke ${account.name} --confirm-within ${value}`))();
      assert.match(reply, /--confirm-within/, reply);
      assert.match(
        reply,
        value === 'soon'
          ? /--confirm-within/
          : new RegExp(`a confirmation window between 1m and 24h \\(got ${got}\\)`),
        reply,
      );
    }
    assert.equal(s.local.requestLog.writes().length, writes, 'zero Azure writes');
    await assert.rejects(s.client.workflow.getHandle(workflowIdFor(account)).describe(), {
      name: 'WorkflowNotFoundError',
    });
  });

  test('when plan revoke and then revoke are typed with --confirm-within 30m, then the plan card and the run card show the 30-minute window the run plans its confirmation with', async () => {
    const account = s.newAccount();
    await cmkAccountOn(s.local, account.name);
    const plan = (await say(`plan revoke ${account.name} --confirm-within 30m`))();
    assert.match(plan, /Confirm blob reads are refused \(canary blob, within 30m\)/, plan);

    const conversation = `a:personal-${randomUUID().slice(0, 8)}`;
    const read = await say(`revoke ${account.name} --confirm-within 30m`, conversation);
    const handle = s.client.workflow.getHandle(workflowIdFor(account));
    const status: RunStatus = await eventually('the run asks for approval', () =>
      handle.query(statusQuery).then(
        (st) => (st.approval.state === 'pending' ? st : undefined),
        () => undefined,
      ),
    );
    // The run planned with the window the bot handed it (its plan reads it from the run's input).
    assert.equal(
      status.plan?.steps.find((x) => x.id === 'probe')?.title,
      'Confirm blob reads are refused (canary blob, within 30m)',
    );
    await eventually('the run card shows the window', async () =>
      /Waiting for approval[\s\S]*within 30m/.test(read()) ? true : undefined,
    );
    await say(`cancel ${account.name}`, conversation);
  });
});
