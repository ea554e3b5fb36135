import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planConfigure, RG_KEYS, startHarness, type Harness } from './harness';
import { beforeAll } from '../kit/suite';

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

  test("when a fleet's plan reads six keys of a vault its worker has not called yet, then Key Vault's sign-in challenge (401) is answered once, not once per key (challenge-based auth: learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses)", async () => {
    const first = await h.cmkAccount({ keyName: 'fleet-k0', pinVersion: true });
    const accounts = [first.account];
    for (let i = 1; i < 6; i++)
      accounts.push(
        (await h.cmkAccount({ keyName: `fleet-k${i}`, pinVersion: true, vault: first.vault })).account,
      );
    const host = new URL(first.vault.vaultUri).host.toLowerCase();
    const since = new Date();
    const fresh = h.freshActivities();
    const planned = await h.run(() => fresh.inspectFleet({ accounts, keysInUse: true }));

    assert.equal(planned.plan.fleet?.rotate, 6, 'every account is on a usable key');
    const reads = h.local.requestLog
      .entries({ service: 'keyvault', operation: 'keys.get', since })
      .filter((e) => e.host.toLowerCase() === host);
    assert.equal(reads.filter((e) => e.status === 200).length, 6, 'each key read once');
    assert.equal(reads.filter((e) => e.status === 401).length, 1, 'one challenge for the vault');
    assert.deepEqual(
      planned.keysInUse,
      accounts.map((_, i) => `${first.vault.vaultUri.toLowerCase()}keys/fleet-k${i}`),
      'the key each account uses, in order',
    );
  });
});
