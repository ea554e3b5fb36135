import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runSmoke, type SmokeOptions, type SmokeReport } from '../../scripts/smoke/lifecycle';
import { smokeSummary } from '../../scripts/smoke/report';
import { readSmokeSettings } from '../../scripts/smoke-azure';
import type { SmokeNames } from '../../scripts/smoke/resources';
import { FAST_TIMING, localAzure, ownDataDir, SEEDED, temporal, type KitAzure } from '../kit';
import { beforeAll } from '../kit/suite';

const ROOT = path.resolve(__dirname, '../..');

interface AccountView {
  identity?: { type?: string };
  properties: { encryption: { keySource: string; keyvaultproperties?: { keyname?: string } } };
}

/** The script's settings with the local Azure's subscription, credential and agent, and the kit's short waits. */
function smokeOptions(azure: KitAzure): Omit<SmokeOptions, 'temporal' | 'log'> {
  return {
    subscriptionId: SEEDED.subscriptionId,
    location: 'eastus',
    tenantId: azure.tenantId,
    callerObjectId: SEEDED.runbookObjectId,
    credential: azure.credential,
    agent: azure.local.agent,
    keep: false,
    confirmWithin: '1m',
    timing: FAST_TIMING,
    pollMs: 25,
    runTimeoutMs: 60_000,
    setupTimeoutMs: 30_000,
  };
}

describe('npm run smoke:azure, run against the local Azure', () => {
  const azure = beforeAll<KitAzure>(() =>
    localAzure({
      throttling: false,
      roleAssignmentPropagationMs: 300,
      revocationPropagationMs: 200,
      dataDir: ownDataDir('local-azure-smoke'),
    }),
  );

  test('when the smoke runs the whole lifecycle, then every step succeeds as Azure shows it, both accounts end back on Microsoft-managed keys, the resource group is gone and the table is printed', async () => {
    const lines: string[] = [];
    let finalAccounts: Record<string, AccountView | undefined> = {};
    let names: SmokeNames | undefined;
    const report: SmokeReport = await runSmoke({
      ...smokeOptions(azure),
      temporal: await temporal(),
      log: (line) => lines.push(line),
      beforeCleanup: async (n) => {
        names = n;
        finalAccounts = Object.fromEntries(
          [n.accountA, n.accountB].map((a) => [
            a,
            azure.local.state.getStorageAccount(SEEDED.subscriptionId, n.resourceGroup, a) as
              AccountView | undefined,
          ]),
        );
      },
    });
    const printed = smokeSummary(report);

    assert.equal(report.passed, true, printed);
    const lane = (name: string) =>
      report.rows.filter((r) => r.lane === name).map((r) => `${r.step}: ${r.outcome}, azure ${r.azure}`);
    assert.deepEqual(
      lane('A'),
      [
        'configure (system-assigned, RBAC, pinned)',
        'rotate',
        'change key',
        'revoke',
        'restore access',
        'disable',
      ].map((step) => `${step}: succeeded, azure ok`),
    );
    assert.deepEqual(
      lane('B'),
      ['configure (user-assigned, access policy, versionless)', 'revoke', 'restore access', 'disable'].map(
        (step) => `${step}: succeeded, azure ok`,
      ),
    );
    // Propagation is measured where access changes: both configures, the key change, both revokes and restores.
    const measured = report.rows.filter((r) => r.propagationSeconds !== undefined && r.lane !== 'setup');
    assert.equal(measured.length, 7, printed);
    const revoke = report.rows.find((r) => r.lane === 'A' && r.step === 'revoke');
    assert.equal(revoke?.propagation, 'revoke → first denied canary read');
    assert.ok(
      (revoke?.propagationSeconds ?? 0) > 0,
      `the revocation is honoured only after the emulator's delay, so the run saw it take time: ${printed}`,
    );

    assert.ok(names);
    for (const account of [names.accountA, names.accountB]) {
      const view = finalAccounts[account];
      assert.equal(
        view?.properties.encryption.keySource,
        'Microsoft.Storage',
        `${account} ends on Microsoft-managed keys`,
      );
    }
    assert.equal(finalAccounts[names.accountA]?.identity?.type, 'SystemAssigned');
    assert.equal(finalAccounts[names.accountB]?.identity?.type, 'UserAssigned');

    const groups = azure.local.state.data.subscriptions[SEEDED.subscriptionId]!.resourceGroups;
    assert.equal(groups[names.resourceGroup.toLowerCase()], undefined, 'the resource group is gone');
    assert.equal(
      azure.local.state.getStorageAccount(SEEDED.subscriptionId, names.resourceGroup, names.accountA),
      undefined,
    );
    const softDeleted = Object.keys(azure.local.state.data.deletedVaults);
    assert.ok(
      softDeleted.includes(names.rbacVault) && softDeleted.includes(names.accessPolicyVault),
      softDeleted.join(),
    );
    assert.equal(report.leftBehind.length, 2, report.leftBehind.join('\n'));
    assert.match(report.leftBehind.join('\n'), /soft-deleted with purge protection; it cannot be purged/);

    assert.match(
      printed,
      /\| lane +\| step +\| outcome +\| azure +\| seconds +\| propagation s +\| propagation measured +\|/,
    );
    assert.match(printed, /PASSED/);
    const said = [...lines, printed, JSON.stringify(report)].join('\n');
    assert.ok(
      !said.includes(azure.local.credentials.clientSecret),
      'no client secret in what the smoke prints',
    );
    assert.doesNotMatch(said, /eyJ[\w-]+\.[\w-]+/, 'no token in what the smoke prints');
    process.stdout.write(`${printed}\n`);
  });

  test('when the smoke is interrupted (Ctrl-C) during a lane, then the run in flight is cancelled, the later steps are skipped, and the resource group is still deleted', async () => {
    const interrupted = new AbortController();
    let group = '';
    const report = await runSmoke({
      ...smokeOptions(azure),
      temporal: await temporal(),
      signal: interrupted.signal,
      log: (line) => {
        group ||= /resource group (\S+)/.exec(line)?.[1] ?? '';
        if (line.startsWith('A: rotate')) setTimeout(() => interrupted.abort(), 50);
      },
    });
    assert.equal(report.passed, false);
    const a = report.rows.filter((r) => r.lane === 'A');
    assert.equal(a[0]?.outcome, 'succeeded');
    assert.match(a[1]?.azure ?? '', /was cancelled: the smoke run was interrupted/);
    assert.deepEqual(
      a.slice(2).map((r) => r.outcome),
      ['skipped', 'skipped', 'skipped', 'skipped'],
    );
    const groups = azure.local.state.data.subscriptions[SEEDED.subscriptionId]!.resourceGroups;
    assert.ok(group);
    assert.equal(groups[group.toLowerCase()], undefined, 'the resource group is gone');
  });

  test('when the settings are malformed, then smoke:azure names each problem; when they are whole, it reads --keep and --json', () => {
    const sub = '00000000-0000-4000-8000-000000000001';
    assert.deepEqual(
      readSmokeSettings({ CMK_SMOKE_SUBSCRIPTION_ID: 'prod', CMK_SMOKE_LOCATION: 'West Europe' }, ['--json']),
      {
        errors: [
          'CMK_SMOKE_SUBSCRIPTION_ID is not a subscription id: prod',
          'CMK_SMOKE_LOCATION is not a region name: west europe',
          '--json needs a file name',
        ],
      },
    );
    const bad = readSmokeSettings(
      { CMK_SMOKE_SUBSCRIPTION_ID: sub, CMK_SMOKE_LOCATION: 'westeurope', CMK_SMOKE_CONFIRM_WITHIN: '3d' },
      ['--force'],
    );
    assert.ok('errors' in bad);
    assert.match(bad.errors.join('\n'), /CMK_SMOKE_CONFIRM_WITHIN: .*between 1m and 24h/);
    assert.match(bad.errors.join('\n'), /unknown option --force/);
    assert.deepEqual(
      readSmokeSettings({ CMK_SMOKE_SUBSCRIPTION_ID: sub, CMK_SMOKE_LOCATION: 'WestEurope' }, [
        '--keep',
        '--json',
        'out.json',
      ]),
      { subscriptionId: sub, location: 'westeurope', confirmWithin: '30m', keep: true, json: 'out.json' },
    );
  });

  test('when the subscription or the location is not named, then smoke:azure refuses to start, says which, and contacts nothing', () => {
    const env = {
      ...process.env,
      CMK_SMOKE_SUBSCRIPTION_ID: '',
      CMK_SMOKE_LOCATION: '',
      HTTPS_PROXY: 'http://127.0.0.1:9',
    };
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/smoke-azure.ts'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /CMK_SMOKE_SUBSCRIPTION_ID is not set/);
    assert.match(run.stderr, /CMK_SMOKE_LOCATION is not set/);
    assert.match(run.stderr, /usage: /);
  });
});
