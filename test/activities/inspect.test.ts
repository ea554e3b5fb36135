import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planConfigure, RG_KEYS, startHarness, type Harness } from './harness';
import { beforeAll } from '../kit/suite';
import type { RequestLogEntry } from '../../src/local-azure/request-log';
import type { AccountRef } from '../../src/shared/accounts';

const KEY = { name: 'cmk', type: 'RSA', size: 2048 } as const;

describe('inspect', () => {
  const h = beforeAll(() => startHarness());

  function configured(pinVersion: boolean): ReturnType<Harness['cmkAccount']> {
    return h.cmkAccount({ keyName: KEY.name, pinVersion });
  }

  test('when the vault has no purge protection, then the plan is blocked with the fix and nothing in Azure changes', async () => {
    const account = h.newAccount();
    h.local.requestLog.clear();
    const plan = await planConfigure(h, account, {
      vault: { name: 'kv-nopurge', resourceGroup: RG_KEYS },
      key: KEY,
    });
    const blocker = plan.blockers.find((b) => b.code === 'PurgeProtectionMissing');
    assert.ok(blocker, 'purge protection blocks the plan');
    assert.match(blocker.message, /kv-nopurge has no purge protection/);
    // The fix names the chat flag that lets the runbook do it, not only the az command.
    assert.match(blocker.fix, /^Add --enable-purge-protection to the command/);
    assert.match(blocker.fix, /az keyvault update --name kv-nopurge --enable-purge-protection true/);
    assert.equal(h.local.requestLog.writes().length, 0, 'inspect writes nothing');
  });

  test('when a command names an existing vault without its resource group, then the plan and ensureVault use that vault instead of creating another', async () => {
    const account = h.newAccount();
    const vault = { name: 'kv-rbac' };
    const plan = await planConfigure(h, account, { vault, key: KEY });
    assert.equal(plan.vault?.exists, true, 'the plan found kv-rbac');
    assert.equal(plan.vault?.resourceGroup, RG_KEYS);
    h.local.requestLog.clear();
    const state = await h.run((a) => a.ensureVault({ account, vault, location: 'eastus' }));
    assert.equal(state.created, false);
    assert.equal(state.resourceGroup, RG_KEYS);
    assert.equal(
      h.local.requestLog.writes().filter((w) => w.method === 'PUT' && /\/vaults\/kv-rbac$/i.test(w.path))
        .length,
      0,
      'no vault was created or rewritten',
    );
  });

  test('when the run may turn purge protection on, then the plan lists it as irreversible instead of blocking', async () => {
    const account = h.newAccount();
    const plan = await planConfigure(h, account, {
      vault: { name: 'kv-nopurge', resourceGroup: RG_KEYS, allowPurgeProtection: true },
      key: KEY,
      pinVersion: true,
    });
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.irreversible.length, 1);
    assert.match(plan.irreversible[0] ?? '', /purge protection/);
    assert.deepEqual(plan.before, { keySource: 'Microsoft.Storage' });
    assert.equal(plan.after.keySource, 'Microsoft.Keyvault');
    assert.equal(plan.after.keyName, 'cmk');
    assert.deepEqual(
      plan.steps.map((s) => s.id),
      ['preflight', 'vault', 'identity', 'key', 'grant', 'enable', 'probe'],
    );
  });

  test('when nothing changes, then the fingerprint is stable; when the key version changes, then it changes', async () => {
    const { account } = await configured(true);
    const request = { operation: 'rotate' } as const;
    const first = await h.run((a) => a.inspect({ account, request }));
    const second = await h.run((a) => a.inspect({ account, request }));
    assert.match(first.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(second.fingerprint, first.fingerprint);
    await h.run((a) => a.rotateKey({ account, runId: 'rot', confirmWithinMs: 0 }));
    const third = await h.run((a) => a.inspect({ account, request }));
    assert.notEqual(third.fingerprint, first.fingerprint);
  });

  test('when access is revoked elsewhere, then the fingerprint of a revoke plan changes', async () => {
    const { account } = await configured(false);
    const request = { operation: 'revoke', disableKey: true } as const;
    const plan = await h.run((a) => a.inspect({ account, request }));
    assert.equal(plan.destructive, true);
    assert.deepEqual(
      plan.steps.filter((s) => s.destructive).map((s) => s.id),
      ['revoke', 'disableKey'],
    );
    await h.revoke(account, false);
    const after = await h.run((a) => a.inspect({ account, request }));
    assert.notEqual(after.fingerprint, plan.fingerprint);
  });

  test('when a Microsoft-managed account is to be rotated, then the plan is blocked with CmkNotEnabled', async () => {
    const account = h.newAccount();
    const plan = await h.run((a) => a.inspect({ account, request: { operation: 'rotate' } }));
    assert.deepEqual(
      plan.blockers.map((b) => b.code),
      ['CmkNotEnabled'],
    );
  });

  test('when disabling CMK is planned, then it is destructive and ends on Microsoft-managed keys', async () => {
    const { account } = await configured(false);
    const plan = await h.run((a) => a.inspect({ account, request: { operation: 'disable' } }));
    assert.equal(plan.destructive, true);
    assert.deepEqual(plan.after, { keySource: 'Microsoft.Storage' });
    assert.equal(plan.before.keySource, 'Microsoft.Keyvault');
  });

  test('when the account was created with infrastructure encryption and account-keyed queues, then the plan warns those cannot change', async () => {
    const plan = await h.run((a) =>
      a.inspect({
        account: {
          subscriptionId: '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1',
          resourceGroup: 'rg-storage',
          name: 'stanalytics',
        },
        request: { operation: 'disable' },
      }),
    );
    assert.ok(plan.warnings.some((w) => /Infrastructure \(double\) encryption/.test(w)));
    assert.ok(plan.warnings.some((w) => /Queues use the account key/.test(w)));
  });
});

describe('rotation and rotation policy', () => {
  const h = beforeAll(() => startHarness());

  test('when a pinned account is rotated twice by one run, then one new version exists and the account is moved to it', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: h.vaultName(), rbac: false }, location: 'eastus' }),
    );
    const identity = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    await h.run((a) => a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: KEY.name }));
    const key = await h.run((a) => a.ensureKey({ vault, key: KEY, runId: 'r' }));
    await h.run((a) => a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion: true }));
    const first = await h.run((a) => a.rotateKey({ account, runId: 'rot-1', confirmWithinMs: 0 }));
    const again = await h.run((a) => a.rotateKey({ account, runId: 'rot-1', confirmWithinMs: 0 }));
    assert.equal(first.accountState, 'moved');
    assert.deepEqual(again, first);
    assert.equal(first.previousVersion, key.version);
    assert.equal(h.local.state.listKeyVersions(vault.name, KEY.name).length, 2);
    const arm = h.local.state.getStorageAccount(
      account.subscriptionId,
      account.resourceGroup,
      account.name,
    ) as {
      properties: { encryption: { keyvaultproperties: { keyversion: string } } };
    };
    assert.equal(arm.properties.encryption.keyvaultproperties.keyversion, first.newVersion);

    const policy = await h.run((a) =>
      a.setRotationPolicy({ account, rotateAfter: '90d', expiresAfter: '365d', notifyBeforeExpiry: '30d' }),
    );
    const policyAgain = await h.run((a) =>
      a.setRotationPolicy({ account, rotateAfter: '90d', expiresAfter: '365d', notifyBeforeExpiry: '30d' }),
    );
    assert.deepEqual(policy, { rotateAfter: 'P90D', expiresAfter: 'P365D', notifyBeforeExpiry: 'P30D' });
    assert.deepEqual(policyAgain, policy);
  });

  test("when a fleet's plan reads six keys of a vault its worker has not called yet, then it lists them with one request (Get Keys gives each key's attributes, 25 a page: learn.microsoft.com/rest/api/keyvault/keys/get-keys) and Key Vault's sign-in challenge (401) is answered once (challenge-based auth: learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses)", async () => {
    const first = await h.cmkAccount({ keyName: 'fleet-k0', pinVersion: true });
    const accounts = [first.account];
    for (let i = 1; i < 6; i++)
      accounts.push(
        (await h.cmkAccount({ keyName: `fleet-k${i}`, pinVersion: true, vault: first.vault })).account,
      );
    const since = new Date();
    const fresh = h.freshActivities();
    const planned = await h.run(() => fresh.inspectFleet({ accounts, keysInUse: true }));

    assert.equal(planned.plan.fleet?.rotate, 6, 'every account is on a usable key');
    const asked = vaultRequests(first.vault.vaultUri, since);
    assert.deepEqual(
      asked.map((e) => `${e.operation} ${e.status}`),
      ['keys.list 401', 'keys.list 200'],
      'one page of the vault, after one challenge',
    );
    assert.deepEqual(
      planned.keysInUse,
      accounts.map((_, i) => `${first.vault.vaultUri.toLowerCase()}keys/fleet-k${i}`),
      'the key each account uses, in order',
    );
  });

  test("when a fleet's keys are disabled or deleted, then the plan skips their accounts and says why: a disabled key from the vault's listing, a deleted one from Get Key's 404 (KeyNotFound), as the listing does not name deleted keys", async () => {
    const usable = await h.cmkAccount({ keyName: 'usable', pinVersion: true });
    const disabled = await h.cmkAccount({ keyName: 'off', pinVersion: true, vault: usable.vault });
    const deleted = await h.cmkAccount({ keyName: 'gone', pinVersion: true, vault: usable.vault });
    const keys = h.azure.keys(usable.vault.vaultUri);
    await keys.updateKeyProperties('off', { enabled: false });
    // The runbook may not delete keys; someone else did (soft delete keeps it as a deleted key).
    const vaultData = h.local.state.data.vaults[usable.vault.name.toLowerCase()]!;
    const now = Math.floor(h.local.clock.now().getTime() / 1000);
    vaultData.deletedKeys.gone = {
      key: vaultData.keys.gone!,
      deletedDate: now,
      scheduledPurgeDate: now + 90 * 86_400,
    };
    delete vaultData.keys.gone;
    h.local.state.changed();
    const since = new Date();

    const planned = await h.run((a) =>
      a.inspectFleet({ accounts: [usable.account, disabled.account, deleted.account] }),
    );

    const vault = usable.vault.name;
    assert.equal(planned.plan.fleet?.rotate, 1);
    assert.deepEqual(
      planned.skip.map((s) => s.why),
      [
        `${disabled.account.name} uses key ${vault}/off, which is disabled; skipped.`,
        `${deleted.account.name} uses key ${vault}/gone, which no longer exists; skipped.`,
      ],
    );
    assert.deepEqual(
      vaultRequests(usable.vault.vaultUri, since).map((e) => `${e.operation} ${e.status}`),
      ['keys.list 200', 'keys.get 404'],
    );
  });

  test('when the runbook may get keys but not list them (an access policy without list), then the plan reads each key on its own and still tells a disabled key from a usable one', async () => {
    const usable = await h.cmkAccount({ keyName: 'usable', pinVersion: true });
    const disabled = await h.cmkAccount({ keyName: 'off', pinVersion: true, vault: usable.vault });
    await h.azure.keys(usable.vault.vaultUri).updateKeyProperties('off', { enabled: false });
    const policies = h.local.state.data.vaults[usable.vault.name.toLowerCase()]!.properties.accessPolicies;
    for (const p of policies) p.permissions.keys = (p.permissions.keys ?? []).filter((k) => k !== 'list');
    h.local.state.changed();
    const since = new Date();

    const planned = await h.run((a) => a.inspectFleet({ accounts: [usable.account, disabled.account] }));

    assert.equal(planned.plan.fleet?.rotate, 1);
    assert.deepEqual(
      planned.skip.map((s) => s.why),
      [`${disabled.account.name} uses key ${usable.vault.name}/off, which is disabled; skipped.`],
    );
    assert.deepEqual(
      vaultRequests(usable.vault.vaultUri, since)
        .map((e) => `${e.operation} ${e.status}`)
        .sort(),
      ['keys.get 200', 'keys.get 200', 'keys.list 403'],
    );
  });

  test('when a vault holds many keys the fleet does not use, then the plan stops listing it once a page costs more than reading the keys wanted one by one', async () => {
    const first = await h.cmkAccount({ keyName: 'listed-first', pinVersion: true });
    const keys = h.local.state.data.vaults[first.vault.name.toLowerCase()]!.keys;
    const template = keys['listed-first']!;
    for (let i = 0; i < 60; i++) keys[`unused-${i}`] = { ...structuredClone(template), name: `unused-${i}` };
    h.local.state.changed();
    const last = await h.cmkAccount({ keyName: 'listed-last', pinVersion: true, vault: first.vault });
    const since = new Date();

    const planned = await h.run((a) => a.inspectFleet({ accounts: [last.account] }));

    assert.equal(planned.plan.fleet?.rotate, 1);
    assert.deepEqual(
      vaultRequests(first.vault.vaultUri, since).map((e) => `${e.operation} ${e.status}`),
      ['keys.list 200', 'keys.get 200'],
      'one page (not the three the vault has), then the key itself',
    );
  });

  test("when a fleet's plan reads the keys of twelve vaults at once, then the worker's log gets no listener-leak warning (each request's listener on the activity's cancellation goes when the request ends)", async () => {
    const accounts: AccountRef[] = [];
    for (let i = 0; i < 12; i++)
      accounts.push((await h.cmkAccount({ keyName: 'spread', pinVersion: true })).account);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const planned = await h.run((a) => a.inspectFleet({ accounts }));
      assert.equal(planned.plan.fleet?.rotate, 12);
      // Node emits a warning on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  /** Key reads (Get Keys, Get Key) of the vault at `uri` since `since`, in order. */
  function vaultRequests(uri: string, since: Date): RequestLogEntry[] {
    const host = new URL(uri).host.toLowerCase();
    return h.local.requestLog
      .entries({ service: 'keyvault', operation: /^keys\.(list|get)$/, since })
      .filter((e) => e.host.toLowerCase() === host);
  }
});
