import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { BotLog } from '../../src/bot/bot';
import { NO_ACCOUNTS, startBot, type BotServer } from '../kit';
import type { ApprovalPolicy } from '../../src/shared/approval';
import { testEnv, uniqueId } from '../helpers/temporal';
import { anyMemberMayRequest } from '../helpers/trust';
import { SDKS, localBot } from './channel';
import { cardText } from './chat-stack';
import { APPROVER, TENANT } from './fixtures';

const policy: ApprovalPolicy = {
  approvers: { rotate: [APPROVER.aadObjectId] },
  quorum: {},
  deadline: '1h',
  tenantId: TENANT,
  requesters: anyMemberMayRequest(),
};

/** Where the clicks say they come from; no answer is sent there (the card is the invoke's answer). */
const SERVICE_URL = 'https://smba.trafficmanager.net/emea/';

/** A bot on `client` whose log lines are kept. */
async function botOver(sdk: (typeof SDKS)[number], client: Client, lines: Parameters<BotLog>[]) {
  return startBot({
    bot: localBot(sdk, [SERVICE_URL]),
    client,
    taskQueue: uniqueId('bot-outage'),
    policy,
    uiBaseUrl: 'http://localhost:8233',
    log: (...line) => void lines.push(line),
    deps: NO_ACCOUNTS,
  });
}

/** An approver's click on `verb` of a run card, posted to the bot's endpoint; the card it answers with. */
async function click(server: BotServer, verb: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'invoke',
      name: 'adaptiveCard/action',
      id: randomUUID(),
      channelId: 'msteams',
      serviceUrl: SERVICE_URL,
      from: { id: `29:${APPROVER.aadObjectId}`, ...APPROVER },
      recipient: { id: '28:cmk-runbook', name: 'cmk-runbook' },
      conversation: { id: `a:${randomUUID()}`, conversationType: 'personal', tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      value: {
        action: {
          type: 'Action.Execute',
          verb,
          data: { workflowId: `cmk/${randomUUID()}`, runId: randomUUID(), fingerprint: 'f'.repeat(64) },
        },
        trigger: 'manual',
      },
    }),
  });
  const body = (await response.json()) as { value?: unknown };
  return { status: response.status, text: cardText(body.value) };
}

for (const sdk of SDKS) {
  describe(`a click on a run card when Temporal cannot be reached or the run is gone (${sdk})`, () => {
    const downLog: Parameters<BotLog>[] = [];
    const upLog: Parameters<BotLog>[] = [];
    let down: BotServer;
    let up: BotServer;
    let unreachable: Connection;

    before(async () => {
      // Nothing listens on port 1: every call fails as a Temporal outage does.
      // One attempt per call: the client's default retries would wait out ~20 s per click.
      unreachable = Connection.lazy({
        address: '127.0.0.1:1',
        interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 1 }))],
      });
      down = await botOver(sdk, new Client({ connection: unreachable }), downLog);
      up = await botOver(sdk, (await testEnv()).client, upLog);
    });
    after(async () => {
      await down?.close();
      await up?.close();
      await unreachable?.close();
    });

    test('when an approver approves while Temporal is unreachable, then the card says the decision could not be recorded and to try again, no refusal is shown, and the error is logged', async () => {
      const answer = await click(down, 'approve');
      assert.equal(answer.status, 200);
      assert.match(answer.text, /Could not record, try again/);
      assert.match(answer.text, /Your decision could not be recorded.*try again/);
      assert.doesNotMatch(answer.text, /Not recorded:|⛔/);
      const logged = downLog.find(
        ([level, message]) => level === 'error' && /could not be handled/.test(message),
      );
      assert.ok(logged, JSON.stringify(downLog));
      assert.ok(String(logged[2]?.error).length > 0, 'the cause is in the log');
    });

    test('when an approver refreshes a card while Temporal is unreachable, then the card says the run could not be read and to try again', async () => {
      const answer = await click(down, 'refresh');
      assert.equal(answer.status, 200);
      assert.match(answer.text, /The run could not be read.*Try again/);
    });

    test('when an approver approves a run that does not exist, then that is a refusal card, not an outage', async () => {
      const answer = await click(up, 'approve');
      assert.equal(answer.status, 200);
      assert.match(answer.text, /⛔ Not recorded|no longer exists|already finished/);
      assert.doesNotMatch(answer.text, /try again in a minute/);
      assert.ok(upLog.some(([level, message]) => level === 'warn' && /refused/.test(message)));
    });
  });
}
