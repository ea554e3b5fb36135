import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RequestLogEntry, RouteFault } from '../../src/local-azure';
import type { AccountRef } from '../../src/shared/accounts';
import type { RunContext, RunResult } from '../../src/shared/runbooks';
import { PEOPLE, resultOf, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { armAccount, decide, localConfigure, waitForApproval } from '../workflows/support';
import { eventually, printTable, type Row } from './support';

const rows: Row[] = [];

describe('the runbooks while Azure calls fail: 429/503, lost answers, reset connections, late answers, failed LRO polls', () => {
  let s: LocalStack;

  /** Configures the account's CMK with a key in `vault`, approved by Alice; its result. */
  async function configureApproved(
    account: AccountRef,
    vault: string,
    context: RunContext,
  ): Promise<RunResult> {
    const handle = await s.start('configure', localConfigure(account, vault, 'cmk-key', context));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    return resultOf(handle);
  }
  before(async () => {
    s = await startLocalStack({ throttling: false });
  });
  after(async () => {
    await s?.close();
    printTable('Chaos: Azure faults (429/503, lost, reset, late, LRO polls)', rows);
  });
  /** Configure needs no approval in these cases, so the fault is met without waiting on a person. */
  const context = { requester: PEOPLE.requester, policy: testPolicy({ alwaysApprove: ['configure'] }) };

  /** Runs `body` with the local Azure failing requests on `routes`; the faults are gone after. */
  async function withFaults(routes: RouteFault[], body: () => Promise<void>): Promise<void> {
    s.local.faults.set({ routes });
    try {
      await body();
    } finally {
      s.local.faults.reset();
    }
  }

  /** A row of the table for the case, then the assertion that `got` is `want`. */
  function expectRow(name: string, got: object, want: object, message: string): void {
    rows.push({
      case: name,
      expected: JSON.stringify(want),
      got: JSON.stringify(got),
      pass: JSON.stringify(got) === JSON.stringify(want),
    });
    assert.deepEqual(got, want, message);
  }

  /** Request-log entries since the first `since`, those `match` keeps. */
  const countSince = (since: number, match: (e: RequestLogEntry) => boolean): number =>
    s.local.requestLog.entries().slice(since).filter(match).length;

  test('when 30 % of calls are throttled or fail, then every configure and rotation completes with one key version per step', async () => {
    const accounts: { account: AccountRef; vault: string }[] = [1, 2, 3].map(() => ({
      account: s.newAccount('stfault'),
      vault: s.vaultName('kv-fault'),
    }));
    // 15 % throttled, then 18 % of the rest answered 503: 0.15 + 0.85 × 0.18 ≈ 30 % of all calls.
    s.local.faults.set({ throttleRate: 0.15, errorRate: 0.18 });
    const configured = await Promise.all(
      accounts.map(async ({ account, vault }) => {
        return configureApproved(account, vault, context);
      }),
    );
    const rotated = await Promise.all(
      accounts.map(async ({ account }) => resultOf(await s.start('rotate', { account, ...context }))),
    );
    s.local.faults.reset();

    const answered = s.local.requestLog.entries().filter((e) => e.service !== 'admin');
    const injected = answered.filter((e) => e.status === 429 || e.status === 503).length;
    const share = injected / answered.length;
    rows.push({
      case: 'share of Azure calls failed by injection',
      expected: '≈ 30 %',
      got: `${(share * 100).toFixed(1)} % of ${answered.length}`,
      pass: share > 0.2 && share < 0.4,
    });
    accounts.forEach(({ account, vault }, i) => {
      const versions = s.local.state.listKeyVersions(vault, 'cmk-key').length;
      for (const [name, result] of [
        ['configure', configured[i]!],
        ['rotate', rotated[i]!],
      ] as const)
        rows.push({
          case: `${name} ${account.name}`,
          expected: 'succeeded',
          got: `${result.outcome}${result.outcome === 'succeeded' ? '' : `: ${result.message}`}`,
          pass: result.outcome === 'succeeded',
        });
      rows.push({
        case: `key versions ${vault}`,
        expected: '2',
        got: String(versions),
        pass: versions === 2,
      });
    });
    assert.ok(share > 0.2 && share < 0.4, `${(share * 100).toFixed(1)} % of calls were failed`);
    assert.deepEqual(
      [...configured, ...rotated].map((r) => r.outcome),
      Array(6).fill('succeeded'),
      [...configured, ...rotated].map((r) => r.message).join(' | '),
    );
    for (const { vault } of accounts) assert.equal(s.local.state.listKeyVersions(vault, 'cmk-key').length, 2);
  });

  test('when Azure applies a write but the answer is lost (key create, role assignment, account PATCH), then configure finds out from Azure and each change exists once', async () => {
    const account = s.newAccount('stlost');
    const vault = s.vaultName('kv-lost');
    const lost = { status: 0, code: 'AnswerLost', answer: 'lost' as const, times: 1 };
    const routes = [
      { ...lost, method: 'POST', pathPattern: `/keys/cmk-key/create$` },
      { ...lost, method: 'PUT', pathPattern: '/providers/Microsoft\\.Authorization/roleAssignments/' },
      { ...lost, method: 'PATCH', pathPattern: `/storageAccounts/${account.name}$` },
    ];
    await withFaults(routes, async () => {
      const result = await configureApproved(account, vault, context);
      const lostWrites = s.local.requestLog.entries().filter((e) => e.answerLost);
      const versions = s.local.state.listKeyVersions(vault, 'cmk-key').length;
      const arm = s.local.state.getStorageAccount(
        account.subscriptionId,
        account.resourceGroup,
        account.name,
      ) as unknown as {
        identity?: { principalId?: string };
        properties: { encryption: { keySource: string } };
      };
      const principal = arm.identity?.principalId ?? 'none';
      const grants = s.local.state
        .listRoleAssignments()
        .filter((r) => JSON.stringify(r).includes(principal)).length;
      const got = {
        outcome: result.outcome,
        lost: lostWrites.length,
        versions,
        grants,
        keySource: arm.properties.encryption.keySource,
      };
      const want = { outcome: 'succeeded', lost: 3, versions: 1, grants: 1, keySource: 'Microsoft.Keyvault' };
      expectRow('configure, 3 answers lost after Azure applied the write', got, want, result.message);

      // A rotation whose new version Key Vault made but whose answer was lost makes no second one.
      s.local.faults.set({
        routes: [{ ...lost, method: 'POST', pathPattern: `/keys/cmk-key/(create|rotate)$` }],
      });
      // (confirmWithin: the local Azure, like Azure, moves a versionless account only in its daily check)
      const rotated = await resultOf(await s.start('rotate', { account, confirmWithin: '2s', ...context }));
      const after = {
        outcome: rotated.outcome,
        lost: s.local.requestLog.entries().filter((e) => e.answerLost).length,
        versions: s.local.state.listKeyVersions(vault, 'cmk-key').length,
      };
      rows.push({
        case: 'rotate, the new version made but its answer lost',
        expected: 'succeeded, 4 lost, 2 versions',
        got: `${after.outcome}, ${after.lost} lost, ${after.versions} versions`,
        pass: after.outcome === 'succeeded' && after.lost === 4 && after.versions === 2,
      });
      assert.deepEqual(after, { outcome: 'succeeded', lost: 4, versions: 2 }, rotated.message);
    });
  });
  /** Successful writes of an operation since `since` entries into the log, optionally on a path. */
  const okWrites = (operation: string, since: number, path?: RegExp): number =>
    countSince(
      since,
      (e) =>
        e.operation === operation &&
        e.status > 0 &&
        e.status < 300 &&
        (path === undefined || path.test(e.path)),
    );

  test("when connections are reset before Azure sees the request (key create, role assignment PUT, account PATCH, the probe's blob read), then configure sends each again and every change exists once", async () => {
    const account = s.newAccount('streset');
    const vault = s.vaultName('kv-reset');
    const since = s.local.requestLog.entries().length;
    const reset = { status: 0, code: 'ConnectionReset', answer: 'reset' as const, times: 1 };
    const routes = [
      { ...reset, method: 'POST', pathPattern: '/keys/cmk-key/create$' },
      { ...reset, method: 'PUT', pathPattern: '/providers/Microsoft\\.Authorization/roleAssignments/' },
      { ...reset, method: 'PATCH', pathPattern: `/storageAccounts/${account.name}$` },
      { ...reset, method: 'HEAD', pathPattern: '^/cmk-runbook/canary$' },
    ];
    await withFaults(routes, async () => {
      const result = await configureApproved(account, vault, context);
      const arm = armAccount(s, account);
      const got = {
        outcome: result.outcome,
        resets: countSince(since, (e) => e.connectionReset === true),
        keyCreates: okWrites('keys.create', since),
        versions: s.local.state.listKeyVersions(vault, 'cmk-key').length,
        grants: s.local.state
          .listRoleAssignments()
          .filter((r) => JSON.stringify(r).includes(arm.identity?.principalId ?? 'none')).length,
        keySource: arm.properties.encryption.keySource,
      };
      const want = {
        outcome: 'succeeded',
        resets: 4,
        keyCreates: 1,
        versions: 1,
        grants: 1,
        keySource: 'Microsoft.Keyvault',
      };
      expectRow('configure, 4 connections reset before Azure saw them', got, want, result.message);
    });
  });

  test("when the vault creation's status polls fail midway (three connections reset, past the SDK's two retries), then the activity's retry finds the vault its PUT made and configure makes one vault PUT", async () => {
    const account = s.newAccount('stpoll');
    const vault = s.vaultName('kv-poll');
    const since = s.local.requestLog.entries().length;
    // The vault PUT answers 201 with Azure-AsyncOperation; the poller GETs operationResults.
    const polls = {
      status: 0,
      code: 'ConnectionReset',
      answer: 'reset' as const,
      times: 3,
      method: 'GET',
      pathPattern: '/providers/Microsoft\\.KeyVault/locations/[^/]+/operationResults/',
    };
    await withFaults([polls], async () => {
      const result = await configureApproved(account, vault, context);
      const got = {
        outcome: result.outcome,
        pollsReset: countSince(since, (e) => e.connectionReset === true && /operationResults/.test(e.path)),
        vaultPuts: okWrites('vaults.createOrUpdate', since, new RegExp(`/vaults/${vault}$`, 'i')),
        versions: s.local.state.listKeyVersions(vault, 'cmk-key').length,
        keySource: armAccount(s, account).properties.encryption.keySource,
      };
      const want = {
        outcome: 'succeeded',
        pollsReset: 3,
        vaultPuts: 1,
        versions: 1,
        keySource: 'Microsoft.Keyvault',
      };
      expectRow("configure, the vault LRO's polls reset 3 times", got, want, result.message);
    });
  });

  test("when disable's account PATCH is answered after its attempt timed out, then the retry reads the account, writes nothing more, and the run succeeds with one PATCH", async () => {
    const account = s.newAccount('stlate');
    const vault = s.vaultName('kv-late');
    const configured = await configureApproved(account, vault, context);
    assert.equal(configured.outcome, 'succeeded', configured.message);
    const since = s.local.requestLog.entries().length;
    const late = {
      status: 0,
      code: 'Late',
      answer: 'late' as const,
      delayMs: 8_000,
      times: 1,
      method: 'PATCH',
      pathPattern: `/storageAccounts/${account.name}$`,
    };
    await withFaults([late], async () => {
      const handle = await s.start('disable', { account, ...context });
      await waitForApproval(handle);
      await decide(handle, PEOPLE.alice, 'approve');
      // The worker waits on the answer with no timeout of the SDK's; what gives up is the
      // attempt's start-to-close (2 minutes in production, 2 s here so the test is short).
      const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
      const pending = await eventually('disableCmk started', async () =>
        ((await handle.describe()).raw.pendingActivities ?? []).find(
          (a) => a.activityType?.name === 'disableCmk' && a.state === STARTED,
        ),
      );
      await handle.client.workflowService.updateActivityOptions({
        namespace: 'default',
        execution: { workflowId: handle.workflowId, runId: (await handle.describe()).runId },
        id: pending.activityId ?? '',
        activityOptions: { startToCloseTimeout: msToTs('2s') },
        updateMask: { paths: ['start_to_close_timeout'] },
        identity: 'chaos-suite',
      });
      const result = await resultOf(handle);
      const attempts = ((await handle.fetchHistory()).events ?? [])
        .map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0)
        .reduce((a, b) => Math.max(a, b), 0);
      const got = {
        outcome: result.outcome,
        latePatches: countSince(since, (e) => e.answeredLateMs !== undefined),
        patches: okWrites('storageAccounts.update', since),
        retried: attempts >= 2,
        keySource: armAccount(s, account).properties.encryption.keySource,
      };
      const want = {
        outcome: 'succeeded',
        latePatches: 1,
        patches: 1,
        retried: true,
        keySource: 'Microsoft.Storage',
      };
      expectRow('disable, the PATCH answered 8 s late (attempt timeout 2 s)', got, want, result.message);
    });
  });
});
