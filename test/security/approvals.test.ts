import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import { statusQuery, type Person, type RunStatus } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { signedStartOptions } from '../helpers/trust';
import { eventually, printTable, type Row } from '../chaos/support';
import { auditDestructiveWrites } from './audit';
import { startSecurityStack, textOf, WHO, type SecurityStack } from './stack';

const rows: Row[] = [];

describe('approval attacks through the bot endpoint', () => {
  let s: SecurityStack;
  const workflowIds: string[] = [];
  before(async () => {
    s = await startSecurityStack();
  });
  after(async () => {
    await s?.close();
    printTable('Security: approval attacks and the approval audit', rows);
  });

  const handleOf = (account: AccountRef) => s.client.workflow.getHandle(workflowIdFor(account));
  const status = (account: AccountRef): Promise<RunStatus> => handleOf(account).query(statusQuery);

  /** Starts a run from chat and waits for its approval card; returns the card's action data. */
  async function requested(command: string, account: AccountRef): Promise<Record<string, unknown>> {
    workflowIds.push(workflowIdFor(account));
    const { status: code, replies } = await s.say(WHO.requester, `${command} ${account.name}`);
    assert.equal(code, 200);
    assert.match(replies, /Started/);
    const st = await eventually('the run waits for approval', async () => {
      const current = await status(account).catch(() => undefined);
      return current?.stage === 'awaiting-approval' ? current : undefined;
    });
    return { workflowId: st.workflowId, runId: st.runId, fingerprint: st.plan?.fingerprint };
  }

  async function click(who: Person, verb: string, data: unknown, id: string = randomUUID()): Promise<string> {
    const response = await s.post(
      s.activity(who, `a:personal-${randomUUID().slice(0, 8)}`, {
        id,
        type: 'invoke',
        name: 'adaptiveCard/action',
        value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
      }),
    );
    assert.equal(response.status, 200);
    return textOf((response.body as { value: unknown }).value);
  }

  /** A click that must be refused with `reason`, record nothing and change nothing in Azure. */
  async function refused(
    name: string,
    account: AccountRef,
    who: Person,
    verb: string,
    data: unknown,
    reason: RegExp,
    id?: string,
  ) {
    const writes = s.local.requestLog.writes().length;
    const decisions = (await status(account).catch(() => undefined))?.approval.decisions.length;
    const shown = await click(who, verb, data, id);
    const after = (await status(account).catch(() => undefined))?.approval.decisions.length;
    const got =
      /Not recorded: ([^\n]*)/.exec(shown)?.[1] ??
      shown.split('\n').find((l) => reason.test(l)) ??
      shown.slice(0, 80);
    const pass = reason.test(shown) && after === decisions && s.local.requestLog.writes().length === writes;
    rows.push({
      case: name,
      expected: `refused: ${reason.source}; 0 writes`,
      got: `${got}; ${s.local.requestLog.writes().length - writes} writes`,
      pass,
    });
    assert.match(shown, reason);
    assert.equal(after, decisions, 'no decision recorded');
    assert.equal(s.local.requestLog.writes().length, writes, 'no Azure write');
  }

  test('when outsiders, the requester or forged card data try to approve configure, then each is refused and only an approver can let it run', async () => {
    const account = s.newAccount();
    const data = await requested('configure', account);
    await refused(
      'non-approver approves',
      account,
      WHO.mallory,
      'approve',
      data,
      /You are not an approver for Configure CMK\./,
    );
    await refused(
      'requester approves own run',
      account,
      WHO.requester,
      'approve',
      data,
      /You requested this run; someone else must approve it\./,
    );
    await refused(
      'card data naming an approver',
      account,
      WHO.mallory,
      'approve',
      { ...data, approverAadId: WHO.alice.aadObjectId, from: { aadObjectId: WHO.alice.aadObjectId } },
      /You are not an approver for Configure CMK\./,
    );
    await refused(
      'card with a tampered plan fingerprint',
      account,
      WHO.alice,
      'approve',
      { ...data, fingerprint: 'f00dfeed' },
      /This card shows an older plan; refresh it\./,
    );
    await refused(
      'card naming no run of mine',
      account,
      WHO.alice,
      'approve',
      { workflowId: 'other/run' },
      /This card is not one of mine or is out of date\./,
    );
    await refused(
      'card with an unknown verb',
      account,
      WHO.alice,
      'purge',
      data,
      /This card is not one of mine or is out of date\./,
    );
    assert.match(await click(WHO.alice, 'approve', data), /Alice Approver approved/);
    const result = (await handleOf(account).result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
  });

  test('when an approver clicks twice on a two-approver revoke, then the second click is refused and the revoke waits for a second person', async () => {
    const account = s.newAccount();
    const configure = await requested('configure', account);
    assert.match(await click(WHO.bob, 'approve', configure), /approved/);
    assert.equal(((await handleOf(account).result()) as RunResult).outcome, 'succeeded');

    const data = await requested('revoke', account);
    assert.match(await click(WHO.alice, 'approve', data), /Alice Approver approved/);
    await refused(
      'same approver clicks again',
      account,
      WHO.alice,
      'approve',
      data,
      /You already approved this run\./,
    );
    assert.equal((await status(account)).stage, 'awaiting-approval');
    assert.match(await click(WHO.bob, 'approve', data), /Bob Approver approved/);
    const result = (await handleOf(account).result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
  });

  test('when a run was rejected, then a later approval is refused and Azure is untouched', async () => {
    const account = s.newAccount();
    const data = await requested('configure', account);
    assert.match(await click(WHO.bob, 'reject', data), /rejected/);
    assert.equal(((await handleOf(account).result()) as RunResult).outcome, 'rejected');
    await refused(
      'approval after a rejection',
      account,
      WHO.alice,
      'approve',
      data,
      /already rejected|already finished/,
    );
  });

  test('when the approval deadline has passed, then a late approval is refused and Azure is untouched', async () => {
    const account = s.newAccount();
    workflowIds.push(workflowIdFor(account));
    const { workflowType, ...options } = await signedStartOptions(
      'configure',
      {
        account,
        vault: { name: `kv-late-${randomUUID().slice(0, 8)}`, resourceGroup: 'rg-keys' },
        key: { name: 'cmk-key', type: 'RSA', size: 2048 },
        identity: { type: 'SystemAssigned' },
        pinVersion: false,
        requester: WHO.requester,
      },
      await s.workerWith({ deadline: '1s' }),
      { tenantId: s.tenantId },
    );
    const handle = await s.client.workflow.start(workflowType, options);
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'expired');
    await refused(
      'approval after the deadline',
      account,
      WHO.alice,
      'approve',
      {
        workflowId: handle.workflowId,
        runId: handle.firstExecutionRunId,
        fingerprint: result.plan?.fingerprint,
      },
      /has expired|already finished/,
    );
  });

  test('when the request log is audited, then every destructive Azure write had a signed quorum in its run', async () => {
    const audit = await auditDestructiveWrites(s.local, s.client, workflowIds, s.policy);
    rows.push(...audit.map((r) => ({ ...r, case: `audit: ${r.case}` })));
    assert.ok(audit.length >= 2, 'the suite made approved destructive writes to audit');
    assert.deepEqual(
      audit.filter((r) => !r.pass),
      [],
    );
  });
});
