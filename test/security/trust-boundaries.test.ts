/**
 * Issue 12's trust-boundary measurements, each replayed as the attack it was, through the real
 * entry points: the bot's HTTP endpoint, the Temporal client and the `temporal` CLI, with the
 * local Azure's request log as the witness that nothing changed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import type { RunSettings } from '../../src/shared/activities';
import { statusQuery, type DecideInput, type Person, type RunStatus } from '../../src/shared/approval';
import type { RevokeAccessInput, RunResult } from '../../src/shared/runbooks';
import { scheduleIdFor, startOptionsFor } from '../../src/shared/start';
import { SDKS } from '../bot/channel';
import { eventually, printTable, type Row } from '../chaos/support';
import { temporalAddress } from '../chaos/temporal-address';
import { openPayload, startTestCodecServer, type TestCodecServer } from '../helpers/codec';
import { temporalCli } from '../helpers/temporal-cli';
import { signedDecision, signedStartOptions } from '../helpers/trust';
import { auditDestructiveWrites } from './audit';
import { startSecurityStack, textOf, WHO, type SecurityStack } from './stack';

/** A listener on loopback that records every request it gets, headers included. */
async function startListener(): Promise<{
  url: string;
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"stolen-1"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

for (const sdk of SDKS) {
  describe(`trust boundaries (issue 12: measurements 3, 4, 5, 6, 8, 9), bot on ${sdk}`, () => {
    const rows: Row[] = [];
    let s: SecurityStack;
    let address: string;
    let codec: TestCodecServer;
    const workflowIds: string[] = [];
    const OTHER_TENANT = randomUUID();

    before(async () => {
      address = await temporalAddress();
      codec = await startTestCodecServer();
      s = await startSecurityStack({ sdk });
    });
    after(async () => {
      await s?.close();
      await codec?.close();
      printTable(
        `Security: trust boundaries, bot on ${sdk} (refused with a reason, nothing started or recorded, 0 writes)`,
        rows,
      );
    });

    const handleOf = (account: AccountRef) => s.client.workflow.getHandle(workflowIdFor(account));
    const status = (account: AccountRef): Promise<RunStatus> => handleOf(account).query(statusQuery);
    const writes = (): number => s.local.requestLog.writes().length;
    const exists = (workflowId: string): Promise<boolean> =>
      s.client.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          () => true,
          () => false,
        );

    /** Records a row and asserts: the answer names the reason, and Azure saw no write. */
    function expectRefused(name: string, shown: string, reason: RegExp, writesBefore: number): void {
      const written = writes() - writesBefore;
      const line = shown.split('\n').find((l) => reason.test(l)) ?? shown.slice(0, 100);
      rows.push({
        case: name,
        expected: `${reason.source}; 0 writes`,
        got: `${line}; ${written} writes`,
        pass: reason.test(shown) && written === 0,
      });
      assert.match(shown, reason);
      assert.equal(written, 0, `${name}: no Azure write`);
    }

    async function click(who: Person, verb: string, data: unknown, extra: Record<string, unknown> = {}) {
      const response = await s.post(
        s.activity(who, `a:personal-${randomUUID().slice(0, 8)}`, {
          type: 'invoke',
          name: 'adaptiveCard/action',
          value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
          ...extra,
        }),
      );
      assert.equal(response.status, 200);
      return textOf((response.body as { value: unknown }).value);
    }

    /** Asks in chat and waits until the run asks for approval; returns the card's data. */
    async function requested(command: string, account: AccountRef): Promise<RunStatus> {
      workflowIds.push(workflowIdFor(account));
      const { replies } = await s.say(WHO.requester, `${command} ${account.name}`);
      assert.match(replies, /Started/);
      return eventually('the run waits for approval', async () => {
        const current = await status(account).catch(() => undefined);
        return current?.stage === 'awaiting-approval' ? current : undefined;
      });
    }

    const cardData = (st: RunStatus) => ({
      workflowId: st.workflowId,
      runId: st.runId,
      fingerprint: st.plan?.fingerprint,
    });

    /** An account on customer-managed keys, configured and approved through chat. */
    async function onCmk(): Promise<AccountRef> {
      const account = s.newAccount();
      const waiting = await requested('configure', account);
      assert.match(await click(WHO.bob, 'approve', cardData(waiting)), /Bob Approver approved/);
      const result = (await handleOf(account).result()) as RunResult;
      assert.equal(result.outcome, 'succeeded', result.message);
      return account;
    }

    /**
     * `temporal workflow update execute --name decide` with `input`, as a namespace user would. The
     * user even holds the codec server's token, so the input reaches the workflow sealed like the
     * bot's and the refusal reads in clear: encryption is not what stops them, the proof is.
     */
    function cliDecide(workflowId: string, input: unknown) {
      const args = ['workflow', 'update', 'execute', '--address', address, '--namespace', 'default'];
      args.push('--workflow-id', workflowId, '--name', 'decide', '--input', JSON.stringify(input));
      return temporalCli(args, { codecArgs: codec.cliArgs });
    }

    test('(3) when a namespace user sends `decide` with the temporal CLI naming two approvers, then each is refused as unsigned or forged, nothing is recorded and the revoke does not run', async () => {
      const account = await onCmk();
      const waiting = await requested('revoke', account);
      const before = writes();
      for (const who of [WHO.alice, WHO.bob]) {
        const forged: DecideInput = {
          approverAadId: who.aadObjectId,
          approverName: who.name,
          verdict: 'approve',
          tenantId: s.tenantId,
          fingerprint: waiting.plan!.fingerprint,
        };
        const unsigned = await cliDecide(waiting.workflowId, forged);
        assert.notEqual(unsigned.status, 0, unsigned.output);
        expectRefused(
          `CLI decide naming ${who.name}, unsigned`,
          unsigned.output,
          /This decision is not signed by the bot/,
          before,
        );
        const mine = await signedDecision(waiting, who, 'approve', { tenantId: s.tenantId });
        const [header, payload] = mine.proof!.split('.');
        const tampered = await cliDecide(waiting.workflowId, {
          ...forged,
          proof: `${header}.${payload}.${'A'.repeat(86)}`,
        });
        assert.notEqual(tampered.status, 0, tampered.output);
        expectRefused(
          `CLI decide naming ${who.name}, forged signature`,
          tampered.output,
          /does not verify against the bot keys this worker trusts/,
          before,
        );
      }
      const after = await status(account);
      assert.equal(after.approval.decisions.length, 0, 'no decision recorded');
      assert.equal(after.stage, 'awaiting-approval');
      await click(WHO.alice, 'reject', cardData(waiting));
      assert.equal(((await handleOf(account).result()) as RunResult).outcome, 'rejected');
      assert.equal(writes(), before, 'the revoke never ran');
    });

    test("(3) when a revoke is started directly with a widened policy in its input, then the worker's policy governs: unsigned it ends invalid before Azure; signed, the outsider it names cannot approve", async () => {
      const account = await onCmk();
      workflowIds.push(workflowIdFor(account));
      const widened: RevokeAccessInput = {
        account,
        disableKey: true,
        requester: WHO.mallory,
        policy: { approvers: { revoke: [WHO.mallory.aadObjectId] }, quorum: { revoke: 1 }, deadline: '1h' },
      };
      const before = writes();
      const { workflowType, ...options } = startOptionsFor('revoke', widened, s.taskQueue);
      const unsigned = (await (await s.client.workflow.start(workflowType, options)).result()) as RunResult;
      assert.equal(unsigned.outcome, 'invalid');
      expectRefused(
        'client start with a widened policy, unsigned',
        unsigned.message,
        /not signed by the bot/,
        before,
      );
      const history = await handleOf(account).fetchHistory();
      assert.deepEqual(
        history.events
          ?.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
          .filter((n): n is string => Boolean(n)),
        ['loadRunSettings'],
        'no Azure activity ran',
      );

      // The requester's own signed start (as if asked in chat), with the same widened policy in it.
      const signed = await signedStartOptions(
        'revoke',
        { ...widened, requester: WHO.requester },
        s.taskQueue,
        {
          tenantId: s.tenantId,
        },
      );
      const handle = await s.client.workflow.start(signed.workflowType, {
        ...signed,
        args: [{ ...signed.args[0], policy: widened.policy }],
      });
      const waiting = await eventually('the run waits for approval', async () => {
        const current = await handle.query(statusQuery).catch(() => undefined);
        return current?.stage === 'awaiting-approval' ? current : undefined;
      });
      const settingsEvent = (await handle.fetchHistory()).events?.find(
        (e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.length,
      );
      const recorded = await openPayload<RunSettings>(
        settingsEvent!.activityTaskCompletedEventAttributes!.result!.payloads![0]!,
      );
      assert.deepEqual(recorded.policy, s.policy, "the run recorded the worker's policy");
      assert.equal(waiting.policyHash, recorded.policyHash);
      assert.equal(waiting.approval.quorum, 2);
      const shown = await click(WHO.mallory, 'approve', cardData(waiting));
      expectRefused(
        'outsider named by an input policy approves',
        shown,
        /You are not an approver for Revoke key access\./,
        before,
      );
      assert.equal((await handle.query(statusQuery)).approval.decisions.length, 0);
      await click(WHO.alice, 'reject', cardData(waiting));
      assert.equal(((await handle.result()) as RunResult).outcome, 'rejected');
    });

    test("(4) when a run's conversation points at a loopback listener, then no card is posted there and the listener never sees an Authorization header", async () => {
      const listener = await startListener();
      try {
        const conversation = {
          activityId: 'x',
          channelId: 'msteams',
          serviceUrl: listener.url,
          conversation: { id: 'a:stolen' },
          bot: { id: '28:cmk-runbook' },
          user: { id: '29:mallory' },
        };
        const before = writes();
        const base = {
          vault: { name: `kv-sec-${randomUUID().slice(0, 8)}` },
          key: { name: 'cmk-key', type: 'RSA' as const, size: 2048 as const },
          identity: { type: 'SystemAssigned' as const },
          pinVersion: false,
          requester: WHO.requester,
          conversation,
        };
        const direct = startOptionsFor('configure', { ...base, account: s.newAccount() }, s.taskQueue);
        const unsigned = (await (
          await s.client.workflow.start(direct.workflowType, direct)
        ).result()) as RunResult;
        expectRefused(
          'direct start reporting to a loopback listener',
          unsigned.message,
          /not signed by the bot/,
          before,
        );
        // Even a start the bot signed (a bot trusting more than the worker) gets no card there.
        const signed = await signedStartOptions(
          'configure',
          { ...base, account: s.newAccount() },
          s.taskQueue,
          {
            tenantId: s.tenantId,
          },
        );
        const result = (await (
          await s.client.workflow.start(signed.workflowType, signed)
        ).result()) as RunResult;
        assert.equal(result.outcome, 'invalid');
        expectRefused(
          'signed start reporting to a loopback listener',
          result.message,
          /is not one this worker sends to \(CMK_TRUSTED_SERVICE_URLS\)/,
          before,
        );
        assert.equal(listener.seen.length, 0, 'the listener got nothing');
        assert.ok(
          !listener.seen.some((h) => h.authorization),
          'no Authorization header reached the listener',
        );
        // The control: the trusted connector does get cards, with the worker's token.
        const control = s.newAccount();
        await requested('configure', control);
        const sent = await eventually('a card reached the trusted connector', () =>
          s.connector.sent.find((x) => x.authorization && textOf(x.body).includes(control.name)),
        );
        assert.equal(sent.authorization, 'Bearer stub-outbound');
        await handleOf(control).terminate('control done');
      } finally {
        await listener.close();
      }
    });

    test('(5) when a user of another tenant sends commands, then each is refused with a card, nothing starts, no schedule changes and nothing of a run is shown', async () => {
      const account = s.newAccount();
      const outsider = { ...WHO.alice };
      const asOutsider = async (text: string) => {
        const conversationId = `a:personal-${randomUUID().slice(0, 8)}`;
        const activity = s.activity(outsider, conversationId, { type: 'message', text });
        const { status: code } = await s.post({
          ...activity,
          conversation: { id: conversationId, conversationType: 'personal', tenantId: OTHER_TENANT },
          channelData: { tenant: { id: OTHER_TENANT } },
        });
        assert.equal(code, 200);
        return s.connector.sent
          .filter((x) => x.conversationId === conversationId)
          .map((x) => textOf(x.body))
          .join('\n');
      };
      for (const command of [
        `configure ${account.name}`,
        `revoke ${account.name}`,
        `schedule-rotation ${account.name} --every 30d`,
        `unschedule-rotation ${account.name}`,
        'runs',
        `status ${account.name}`,
        `restore-access ${account.name}`,
        `update-version ${account.name}`,
        `plan revoke ${account.name}`,
        'rotate-fleet --resource-group rg-storage',
        'set-rotation-policy kv-contoso/cmk-key --expire-after 90d',
        'pending',
      ]) {
        const before = writes();
        const shown = await asOutsider(command);
        expectRefused(
          `other tenant: ${command.split(' ')[0]}`,
          shown,
          /another organisation than the one I serve/,
          before,
        );
        assert.doesNotMatch(shown, /Started|Recent runs|will be rotated|stopped/);
      }
      assert.equal(await exists(workflowIdFor(account)), false, 'no run holds the account');
      await assert.rejects(s.client.schedule.getHandle(scheduleIdFor(account)).describe(), {
        name: 'ScheduleNotFoundError',
      });
    });

    test('(5) when a member the policy does not let ask sends commands, then each is refused naming the key to change and the account stays free', async () => {
      const account = s.newAccount();
      for (const [command, title, key] of [
        [`configure ${account.name}`, 'Configure CMK', 'CMK_REQUESTERS_CONFIGURE'],
        [`revoke ${account.name}`, 'Revoke key access', 'CMK_REQUESTERS_REVOKE'],
        [
          `schedule-rotation ${account.name} --every 30d`,
          'Schedule rotation',
          'CMK_REQUESTERS_SCHEDULE_ROTATION',
        ],
        [
          `unschedule-rotation ${account.name}`,
          'Stop scheduled rotation',
          'CMK_REQUESTERS_UNSCHEDULE_ROTATION',
        ],
        [`restore-access ${account.name}`, 'Restore key access', 'CMK_REQUESTERS_RESTORE_ACCESS'],
        [`update-version ${account.name}`, 'Update key version', 'CMK_REQUESTERS_UPDATE_VERSION'],
        [`plan revoke ${account.name}`, 'Revoke key access', 'CMK_REQUESTERS_REVOKE'],
        ['rotate-fleet --resource-group rg-storage', 'Fleet rotation', 'CMK_REQUESTERS_FLEET_ROTATE'],
        [
          'set-rotation-policy kv-contoso/cmk-key --expire-after 90d',
          'Set rotation policy',
          'CMK_REQUESTERS_SET_ROTATION_POLICY',
        ],
      ] as const) {
        const before = writes();
        const { replies } = await s.say(WHO.mallory, command);
        expectRefused(
          `not a requester: ${command.split(' ')[0]}`,
          replies,
          new RegExp(`You may not ask for ${title}\\..*${key}`),
          before,
        );
      }
      assert.equal(await exists(workflowIdFor(account)), false, 'the account holds no lock');
      const { replies } = await s.say(WHO.mallory, 'help');
      assert.match(replies, /configure <account>/, 'read-only commands stay open to members');
      await requested('configure', account);
      await handleOf(account).terminate('done');
    });

    /** POSTs `body` to the bot with node:http, so the Host header can be set as a rebinding browser would send it. */
    const postRaw = (
      headers: Record<string, string>,
      body: string,
    ): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const url = new URL(`${s.server.url}/api/messages`);
        const req = request(
          { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers },
          (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });

    test('(6) when a web page drives a local bot with blind cross-origin requests, then each is refused before it is read and no run starts', async () => {
      const account = s.newAccount();
      const body = JSON.stringify(
        s.activity(WHO.requester, `a:personal-${randomUUID().slice(0, 8)}`, {
          type: 'message',
          text: `configure ${account.name}`,
        }),
      );
      const url = new URL(`${s.server.url}/api/messages`);
      const attempts: [string, Record<string, string>, number, RegExp][] = [
        [
          'a text/plain body (a simple request, no preflight)',
          { 'content-type': 'text/plain' },
          415,
          /application\/json only/,
        ],
        [
          'a browser Origin header',
          { 'content-type': 'application/json', origin: 'https://attacker.example' },
          403,
          /refuses requests from web pages/,
        ],
        [
          'a rebound Host name',
          { 'content-type': 'application/json', host: `attacker.example:${url.port}` },
          403,
          /addressed to this machine/,
        ],
      ];
      for (const [name, headers, code, reason] of attempts) {
        const before = writes();
        const response = await postRaw(headers, body);
        assert.equal(response.status, code, name);
        expectRefused(`local mode: ${name}`, response.text, reason, before);
      }
      assert.equal(await exists(workflowIdFor(account)), false, 'no run started');
    });

    test("(6) when anyone who can reach the bot's port posts a body over 1 MiB, then it is answered 413 Payload Too Large (RFC 9110 15.5.14), not a reset or a 400, and no run starts", async () => {
      const account = s.newAccount();
      const activity = s.activity(WHO.requester, `a:personal-${randomUUID().slice(0, 8)}`, {
        type: 'message',
        text: `configure ${account.name}`,
      });
      const body = JSON.stringify({ ...activity, padding: 'x'.repeat(2 * 1024 * 1024) });
      const before = writes();
      const response = await postRaw({ 'content-type': 'application/json' }, body);
      assert.equal(response.status, 413);
      expectRefused('a body over 1 MiB', response.text, /larger than the 1 MiB the bot accepts/, before);
      assert.equal(await exists(workflowIdFor(account)), false, 'no run started');
    });

    test('(8) when a click names no run or plan, or an old click is replayed on a new run of the same plan, then it is refused and nothing is recorded', async () => {
      const account = await onCmk();
      const first = await requested('revoke', account);
      assert.match(await click(WHO.bob, 'reject', cardData(first)), /rejected/);
      await handleOf(account).result();
      const second = await requested('revoke', account);
      assert.equal(
        second.plan?.fingerprint,
        first.plan?.fingerprint,
        'the same plan, so the same fingerprint',
      );
      const before = writes();
      const { runId: _r, ...noRun } = cardData(second);
      expectRefused(
        'click without runId',
        await click(WHO.alice, 'approve', noRun),
        /does not name its run and plan/,
        before,
      );
      const { fingerprint: _f, ...noPlan } = cardData(second);
      expectRefused(
        'click without fingerprint',
        await click(WHO.alice, 'approve', noPlan),
        /does not name its run and plan/,
        before,
      );
      expectRefused(
        'old click (first run) on the new run',
        await click(WHO.alice, 'approve', cardData(first)),
        /already finished/,
        before,
      );
      // A namespace user replays the first run's signed decision onto the second.
      const history = await s.client.workflow.getHandle(first.workflowId, first.runId).fetchHistory();
      const accepted = history.events?.find(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'decide',
      );
      const captured = await openPayload<DecideInput>(
        accepted!.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.args!.payloads![0]!,
      );
      const replayed = await cliDecide(second.workflowId, { ...captured, verdict: captured.verdict });
      assert.notEqual(replayed.status, 0);
      expectRefused(
        'signed decision of another run replayed with the CLI',
        replayed.output,
        /belongs to another run of this account/,
        before,
      );
      assert.equal((await status(account)).approval.decisions.length, 0);
      await click(WHO.alice, 'reject', cardData(second));
      await handleOf(account).result();
    });

    test('(9) when a command carries no Entra object id, then it is refused and nothing starts, so nobody can approve their own request under another id', async () => {
      const account = s.newAccount();
      const conversationId = `a:personal-${randomUUID().slice(0, 8)}`;
      const activity = s.activity(WHO.requester, conversationId, {
        type: 'message',
        text: `configure ${account.name}`,
      });
      const before = writes();
      const { status: code } = await s.post({
        ...activity,
        from: { id: `29:${WHO.requester.aadObjectId}`, name: WHO.requester.name },
      });
      assert.equal(code, 200);
      const shown = s.connector.sent
        .filter((x) => x.conversationId === conversationId)
        .map((x) => textOf(x.body))
        .join('\n');
      expectRefused('command without aadObjectId', shown, /Teams did not say who you are/, before);
      assert.equal(await exists(workflowIdFor(account)), false, 'no run started');
    });

    test('when the request log is audited, then every destructive Azure write had a signed quorum in its run', async () => {
      const audit = await auditDestructiveWrites(s.local, s.client, workflowIds, s.policy);
      rows.push(...audit.map((r) => ({ ...r, case: `audit: ${r.case}` })));
      assert.deepEqual(
        audit.filter((r) => !r.pass),
        [],
      );
    });
  });
}
