/**
 * The product as a smoke run drives it: the production worker (from the dev kit) with the real
 * activities over the given Azure clients, the bot's real endpoint with Bot Framework auth
 * against an offline token authority, a connector standing in for Teams, and two people of a
 * smoke-only policy — one asks in chat, the other approves on the card, as in Teams.
 */
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  createActivities,
  DEFAULT_TIMING,
  type ActivityTiming,
  type AzureClients,
} from '../../src/activities';
import { createArmAccountResolver } from '../../src/bot/accounts';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import { REQUEST_OPERATIONS, type ApprovalPolicy, type Person } from '../../src/shared/approval';
import { OPERATIONS, type RunResult } from '../../src/shared/runbooks';
import { cardOf, cardText } from '../../test/bot/chat-stack';
import {
  chatPortFor,
  offlineAuth,
  postActivity,
  registeredBot,
  startBot,
  startRecordingConnector,
  startTokenAuthority,
  startWorker,
  stubOutbound,
  teamsActivity,
  uniqueId,
} from '../../test/kit';
import {
  ISSUER,
  type RecordingConnector,
  type SentActivity,
  type TokenAuthority,
} from '../../test/bot/channel';
import { TEST_BOT_KEY } from '../../test/helpers/trust';

/** The smoke's people: made-up Entra object ids that only the smoke's policy names. */
export const SMOKE_PEOPLE = {
  requester: { aadObjectId: '5a0e0000-0000-4000-8000-00000000a001', name: 'Smoke Requester' },
  approver: { aadObjectId: '5a0e0000-0000-4000-8000-00000000a002', name: 'Smoke Approver' },
} as const satisfies Record<string, Person>;

/** Every operation asked by the requester and approved by the approver, approval always required. */
export function smokePolicy(tenantId: string): ApprovalPolicy {
  return {
    approvers: Object.fromEntries(OPERATIONS.map((op) => [op, [SMOKE_PEOPLE.approver.aadObjectId]])),
    quorum: {},
    deadline: '1h',
    tenantId,
    alwaysApprove: [...OPERATIONS],
    requesters: Object.fromEntries(
      REQUEST_OPERATIONS.map((op) => [op, [SMOKE_PEOPLE.requester.aadObjectId]]),
    ),
  };
}

/** A run as the smoke saw it: its result and how long from the command to the result. */
export interface SmokeRun {
  workflowId: string;
  runId: string;
  result: RunResult;
  seconds: number;
}

/** The running product. */
export interface SmokeStack {
  /**
   * Sends `command` in a chat of its own lane, approves the run's card, and waits for the result;
   * an abort cancels the run in Temporal and throws.
   */
  run(lane: string, account: AccountRef, command: string, signal?: AbortSignal): Promise<SmokeRun>;
  close(): Promise<void>;
}

/** What {@link startSmokeStack} needs. */
export interface SmokeStackOptions {
  temporal: Pick<TestWorkflowEnvironment, 'client' | 'nativeConnection'>;
  azure: AzureClients;
  tenantId: string;
  subscriptionId: string;
  /** Activity waits; production's unless told (the local run shortens them). */
  timing?: Partial<ActivityTiming>;
  /** How long one run may take, approval included. */
  runTimeoutMs: number;
  /** How often to look for the card and the run's end. */
  pollMs: number;
}

/** Starts worker, bot, token authority and connector. */
export async function startSmokeStack(options: SmokeStackOptions): Promise<SmokeStack> {
  const { temporal, azure, tenantId, subscriptionId } = options;
  const authority = await startTokenAuthority();
  const connector = await startRecordingConnector();
  const appId = randomUUID();
  const trustedServiceUrls = [connector.serviceUrl];
  const botConfig = registeredBot('botbuilder', appId, trustedServiceUrls);
  const policy = smokePolicy(tenantId);
  const taskQueue = uniqueId('cmk-smoke');
  const chatPort = await chatPortFor(botConfig, { trustedServiceUrls, transport: stubOutbound(appId) });
  const worker = await startWorker({
    connection: temporal.nativeConnection,
    taskQueue,
    activities: createActivities({
      azure,
      chat: chatPort,
      tenantId,
      timing: { ...DEFAULT_TIMING, ...options.timing },
    }),
    trust: { policy, botKeys: [TEST_BOT_KEY], trustedServiceUrls },
  });
  const bot = await startBot({
    bot: botConfig,
    client: temporal.client,
    taskQueue,
    policy,
    transportOptions: offlineAuth(appId, authority),
    deps: {
      resolver: createArmAccountResolver({
        subscriptionIds: [subscriptionId],
        storage: (s) => azure.storage(s),
      }),
      subscriptionIds: [subscriptionId],
    },
  });
  const chat = smokeChat({
    botUrl: bot.url,
    settled: () => bot.settled(),
    connector,
    authority,
    appId,
    tenantId,
  });
  return {
    async run(lane, account, command, signal) {
      const started = Date.now();
      const since = await chat.ask(lane, command);
      const { runId } = await temporal.client.workflow.getHandle(workflowIdFor(account)).describe();
      const run = temporal.client.workflow.getHandle(workflowIdFor(account), runId);
      const deadline = started + options.runTimeoutMs;
      let approved = false;
      while ((await run.describe()).status.name === 'RUNNING') {
        if (!approved) approved = await chat.approveIfAsked(lane, since);
        if (Date.now() > deadline || signal?.aborted) {
          await run.cancel();
          throw new Error(
            signal?.aborted
              ? `"${command}" was cancelled: the smoke run was interrupted`
              : `"${command}" did not finish within ${Math.round(options.runTimeoutMs / 60_000)} minutes`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, options.pollMs));
      }
      const result = (await run.result()) as RunResult;
      return { workflowId: run.workflowId, runId, result, seconds: (Date.now() - started) / 1000 };
    },
    async close() {
      await bot.settled();
      await bot.close();
      await worker.close();
      await connector.close();
      await authority.close();
    },
  };
}

/** What the smoke's chat talks through. */
interface ChatParts {
  botUrl: string;
  settled: () => Promise<void>;
  connector: RecordingConnector;
  authority: TokenAuthority;
  appId: string;
  tenantId: string;
}

/**
 * One personal chat per lane, as Teams carries it: activities signed by the channel's token
 * authority, the requester's commands, the approver's clicks, the cards the connector received.
 */
function smokeChat({ botUrl, settled, connector, authority, appId, tenantId }: ChatParts) {
  const conversations = new Map<string, { id: string; conversationType: 'personal' }>();
  const token = (): string => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: ISSUER,
      aud: appId,
      serviceurl: connector.serviceUrl,
      nbf: now - 60,
      exp: now + 600,
    };
    return authority.sign(claims);
  };
  const post = (lane: string, from: Person, extra: Record<string, unknown>) => {
    let conversation = conversations.get(lane);
    if (!conversation) {
      conversation = { id: `a:smoke-${lane}-${randomUUID().slice(0, 8)}`, conversationType: 'personal' };
      conversations.set(lane, conversation);
    }
    const context = { serviceUrl: connector.serviceUrl, tenantId, conversation, botId: appId };
    return postActivity(botUrl, teamsActivity(context, from, extra), token());
  };
  const sentIn = (lane: string): SentActivity[] =>
    connector.sent.filter((s) => s.conversationId === conversations.get(lane)?.id);
  const messageIdOf = (activity: SentActivity): string =>
    activity.method === 'PUT' ? activity.activityId! : `activity-${connector.sent.indexOf(activity) + 1}`;
  return {
    /** The requester sends `command`; returns how much the lane's chat held before, once the bot said it started. */
    async ask(lane: string, command: string): Promise<number> {
      const since = sentIn(lane).length;
      const said = await post(lane, SMOKE_PEOPLE.requester, { type: 'message', text: command });
      await settled();
      const reply = sentIn(lane)
        .slice(since)
        .map((r) => (typeof r.body.text === 'string' ? r.body.text : cardText(cardOf(r))))
        .join(' ');
      if (said.status !== 200 || !/Started/.test(reply))
        throw new Error(`the bot did not start "${command}" (HTTP ${said.status}): ${reply || 'no reply'}`);
      return since;
    },
    /** The approver clicks Approve on the lane's card once it waits for approval; true once clicked. */
    async approveIfAsked(lane: string, since: number): Promise<boolean> {
      const asking = sentIn(lane)
        .slice(since)
        .find((s) => cardText(cardOf(s)).includes('Waiting for approval'));
      if (!asking) return false;
      const actions = cardOf(asking)!.actions as { verb?: string; data?: unknown }[];
      const data = actions.find((a) => a.verb === 'refresh')?.data;
      const clicked = await post(lane, SMOKE_PEOPLE.approver, {
        type: 'invoke',
        name: 'adaptiveCard/action',
        replyToId: messageIdOf(asking),
        value: { action: { type: 'Action.Execute', verb: 'approve', data }, trigger: 'manual' },
      });
      const answer = cardText((clicked.body as { value?: unknown } | undefined)?.value);
      if (clicked.status !== 200 || !/approved/i.test(answer))
        throw new Error(`the approval was not recorded (HTTP ${clicked.status}): ${answer}`);
      return true;
    },
  };
}
