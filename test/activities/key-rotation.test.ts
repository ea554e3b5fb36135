/**
 * Keys as Key Vault has them, through the real SDK clients against the local Azure: rotation by
 * Key Vault's rotate operation, one version per rotation however often it is retried or however
 * many accounts share the key, and the plan refusing keys storage cannot use — each with zero
 * Azure writes and the fix.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KeyVaultKey } from '@azure/keyvault-keys';
import { ApplicationFailure } from '@temporalio/common';
import { keySizeOf } from '../../src/activities/keys';
import type { AccountRef } from '../../src/shared/accounts';
import type { KeyState, VaultState } from '../../src/shared/activities';
import type { Plan } from '../../src/shared/plan';
import { planConfigure, RG_KEYS, RUNBOOK_OID, startHarness, SUB } from './harness';
import { beforeAll } from '../kit/suite';

const DAY_MS = 86_400_000;

describe('keys: rotate operation, one version per rotation, and plan checks', () => {
  const h = beforeAll(() => startHarness());

  const keys = (k: KeyState) => h.azure.keys(k.vaultUri);
  const versions = async (k: KeyState): Promise<number> => {
    let n = 0;
    for await (const v of keys(k).listPropertiesOfKeyVersions(k.name)) n += v ? 1 : 0;
    return n;
  };
  const keyVersionOf = (account: AccountRef): string | undefined =>
    (
      h.local.state.getStorageAccount(account.subscriptionId, account.resourceGroup, account.name) as {
        properties: { encryption: { keyvaultproperties?: { keyversion?: string } } };
      }
    ).properties.encryption.keyvaultproperties?.keyversion;
  const failsWith = (type: string, message: RegExp) => (error: unknown) =>
    error instanceof ApplicationFailure && error.type === type && message.test(error.message);
  const configurePlan = (account: AccountRef, vault: VaultState, key: { name: string; type?: string }) =>
    planConfigure(h, account, {
      vault: { name: vault.name, resourceGroup: vault.resourceGroup },
      key: { name: key.name, type: (key.type ?? 'RSA') as 'RSA', size: 2048 },
    });
  const blocker = (plan: Plan, code: string) => plan.blockers.find((b) => b.code === code);

  test('when a key with a rotation policy is rotated, then the new version comes from Key Vault rotate (POST keys/{name}/rotate) and carries the policy expiry (key-vault keys/how-to-configure-key-rotation)', async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-policy', pinVersion: true });
    await h.run((a) => a.setRotationPolicy({ account, rotateAfter: 'P30D', expiresAfter: 'P90D' }));
    h.local.requestLog.clear();
    const result = await h.run((a) => a.rotateKey({ account, runId: 'run-policy', confirmWithinMs: 0 }));

    const rotates = h.local.requestLog
      .writes()
      .filter((w) => w.method === 'POST' && /\/keys\/rot-policy\/rotate$/i.test(w.path));
    assert.equal(rotates.length, 1, 'one rotate call');
    assert.equal(
      h.local.requestLog.writes().filter((w) => /\/keys\/rot-policy\/create$/i.test(w.path)).length,
      0,
      'no create',
    );
    const fresh = await keys(key).getKey(key.name, { version: result.newVersion });
    const expiresIn = (fresh.properties.expiresOn?.getTime() ?? 0) - h.local.clock.now().getTime();
    assert.ok(Math.abs(expiresIn - 90 * DAY_MS) < DAY_MS, `expires in ~90 days (${expiresIn} ms)`);
    assert.equal(result.accountState, 'moved');
    assert.equal(keyVersionOf(account), result.newVersion);
  });

  test('when an attempt rotated and was lost before it tagged the version, then the retry adopts that version and makes no second one', async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-lost', pinVersion: true });
    // The lost attempt's first heartbeat named the version it rotated from; then it rotated and died.
    const from = (await keys(key).getKey(key.name)).properties.version!;
    const made = await keys(key).rotateKey(key.name);
    const result = await h.run(
      (a) => a.rotateKey({ account, runId: 'run-lost', confirmWithinMs: 0 }),
      'run-lost',
      {
        attempt: 2,
        heartbeatDetails: { step: 'rotate', rotatingFrom: from },
      },
    );

    assert.equal(result.newVersion, made.properties.version);
    assert.equal(result.previousVersion, key.version);
    assert.equal(await versions(key), 2, 'the original and the one rotation');
    assert.equal(keyVersionOf(account), made.properties.version);
  });

  test('when a lost attempt rotated and its heartbeat never reached Temporal, then the retry still adopts the version Key Vault made after the activity was scheduled', async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-lost2', pinVersion: true });
    const scheduledTimestampMs = h.local.clock.now().getTime();
    const made = await keys(key).rotateKey(key.name);
    const result = await h.run(
      (a) => a.rotateKey({ account, runId: 'run-lost2', confirmWithinMs: 0 }),
      'run-lost2',
      { attempt: 3, scheduledTimestampMs, heartbeatDetails: undefined },
    );
    assert.equal(result.newVersion, made.properties.version);
    assert.equal(await versions(key), 2);
  });

  test('when a rotation is split (makeKeyVersion on the paced queue, then rotateKey), then Key Vault makes one version, a retry of makeKeyVersion makes none, and rotateKey only moves the account to it and reports the version before', async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-split', pinVersion: true });
    h.local.requestLog.clear();
    const made = await h.run((a) => a.makeKeyVersion({ account, runId: 'run-split', confirmWithinMs: 0 }));
    const again = await h.run((a) => a.makeKeyVersion({ account, runId: 'run-split', confirmWithinMs: 0 }));
    assert.deepEqual([made.made, again.made], [true, false]);
    assert.equal(again.newVersion, made.newVersion);
    assert.equal(keyVersionOf(account), key.version, 'the account is not moved by the Key Vault half');
    const result = await h.run((a) => a.rotateKey({ account, runId: 'run-split', confirmWithinMs: 0 }));
    assert.equal(result.newVersion, made.newVersion);
    assert.equal(result.previousVersion, key.version);
    assert.equal(keyVersionOf(account), made.newVersion);
    assert.equal(await versions(key), 2, 'the original and the one rotation');
    const rotates = h.local.requestLog.writes().filter((w) => /\/keys\/rot-split\/rotate$/i.test(w.path));
    assert.equal(rotates.length, 1, 'one rotate call in all');
  });

  test("when Key Vault answers a rotation's create with 429 (service-limits: 20 creates per vault per 10 s), then the create is not sent again in process: the activity fails as throttled with Retry-After as its next retry's delay, and that retry makes the one version", async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-throttled', pinVersion: true });
    h.local.requestLog.clear();
    h.local.faults.set({
      routes: [
        {
          method: 'POST',
          pathPattern: '/keys/rot-throttled/rotate$',
          status: 429,
          code: 'Throttled',
          times: 1,
          retryAfterSeconds: 4,
        },
      ],
    });
    try {
      await assert.rejects(
        h.run((a) => a.makeKeyVersion({ account, runId: 'run-throttled', confirmWithinMs: 0 })),
        (error: ApplicationFailure) =>
          error.type === 'AzureThrottled' && !error.nonRetryable && error.nextRetryDelay === 4_000,
      );
    } finally {
      h.local.faults.reset();
    }
    const rotates = () =>
      h.local.requestLog
        .entries({ method: 'POST', path: /\/keys\/rot-throttled\/rotate$/i })
        .map((e) => e.status);
    assert.deepEqual(rotates(), [429], 'the SDK did not send it again');
    const made = await h.run((a) =>
      a.makeKeyVersion({ account, runId: 'run-throttled', confirmWithinMs: 0 }),
    );
    assert.equal(made.made, true);
    assert.deepEqual(rotates(), [429, 200]);
    assert.equal(await versions(key), 2, 'the original and the one rotation');
  });

  test('when the Key Vault half is given the key its plan found, then it reads no account from ARM (the read budget is spent once, by the move), makes one version, and the move reads the account once and checks the version it found without reading it again', async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-planned', pinVersion: true });
    const plannedKey = { vaultUri: key.vaultUri, keyName: key.name, inUse: key.version };
    h.local.requestLog.clear();
    const made = await h.run((a) =>
      a.makeKeyVersion({ account, runId: 'run-planned', confirmWithinMs: 0, plannedKey }),
    );
    assert.equal(h.local.requestLog.entries({ service: 'arm' }).length, 0, 'no ARM request');
    assert.equal(made.made, true);
    h.local.requestLog.clear();
    const result = await h.run((a) =>
      a.rotateKey({ account, runId: 'run-planned', confirmWithinMs: 0, plannedKey }),
    );
    assert.equal(result.newVersion, made.newVersion);
    assert.equal(result.previousVersion, key.version);
    assert.equal(keyVersionOf(account), made.newVersion);
    assert.equal(await versions(key), 2);
    const reads = h.local.requestLog.entries({ operation: 'storageAccounts.getProperties' });
    assert.equal(reads.length, 1, 'one ARM read of the account');
    const keyReads = h.local.requestLog.entries({ service: 'keyvault', operation: 'keys.get', status: 200 });
    assert.equal(keyReads.length, 1, 'one Key Vault read: the newest version, found by its tag');
  });

  test("when the plan gave the key and ARM is slow to answer (500 ms a read), then rotateKey asks for the account and the key at once: Key Vault's answer comes first, and the account still moves to the new version", async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-at-once', pinVersion: true });
    const plannedKey = { vaultUri: key.vaultUri, keyName: key.name, inUse: key.version };
    const made = await h.run((a) =>
      a.makeKeyVersion({ account, runId: 'run-at-once', confirmWithinMs: 0, plannedKey }),
    );
    h.local.requestLog.clear();
    h.local.faults.set({ latencies: [{ service: 'arm', method: 'GET', ms: 500 }] });
    try {
      const result = await h.run((a) =>
        a.rotateKey({ account, runId: 'run-at-once', confirmWithinMs: 0, plannedKey }),
      );
      assert.equal(result.newVersion, made.newVersion);
    } finally {
      h.local.faults.reset();
    }
    assert.equal(keyVersionOf(account), made.newVersion);
    // The log is in the order the answers were sent.
    const answered = h.local.requestLog.entries().map((e) => e.operation);
    const keyRead = answered.indexOf('keys.get');
    const accountRead = answered.indexOf('storageAccounts.getProperties');
    assert.ok(keyRead >= 0 && accountRead >= 0, answered.join(', '));
    assert.ok(
      keyRead < accountRead,
      `the key read was answered before the account read: ${answered.join(', ')}`,
    );
  });

  test('when the account moved to another key after its plan, then rotateKey refuses with AccountKeyChanged, says which key it uses now, and does not move it (bind what was planned to what is done)', async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-moved-from', pinVersion: true });
    const other = await h.cmkAccount({ keyName: 'rot-moved-to', pinVersion: true, vault: undefined });
    const plannedKey = { vaultUri: other.key.vaultUri, keyName: other.key.name, inUse: other.key.version };
    h.local.requestLog.clear();
    await assert.rejects(
      h.run((a) => a.rotateKey({ account, runId: 'run-moved', confirmWithinMs: 0, plannedKey })),
      failsWith(
        'AccountKeyChanged',
        /now uses key .+\/rot-moved-from, not key .+\/rot-moved-to as planned; it was not moved\. Fix: rotate it again/,
      ),
    );
    assert.equal(keyVersionOf(account), key.version, 'the account keeps its version');
    assert.equal(h.local.requestLog.writes().length, 0, 'nothing written');
  });

  test("when the plan's key is not a Key Vault key URI, then makeKeyVersion refuses it as invalid input before any call to Azure", async () => {
    const { account } = await h.cmkAccount({ keyName: 'rot-bad-plan', pinVersion: true });
    h.local.requestLog.clear();
    await assert.rejects(
      h.run((a) =>
        a.makeKeyVersion({
          account,
          runId: 'run-bad-plan',
          confirmWithinMs: 0,
          plannedKey: { vaultUri: 'https://attacker.example/', keyName: 'k' },
        }),
      ),
      (error: unknown) => error instanceof ApplicationFailure && /keyId/.test(error.message),
    );
    assert.equal(h.local.requestLog.entries({}).filter((e) => e.service !== 'entra').length, 0);
  });

  test('when a fleet asks which keys its accounts use, then a subscription with several of them is read from its account list (one ARM read per page of 100, not one per account), an account it lacks reads as none, and a lone account is read by itself', async () => {
    const first = await h.cmkAccount({ keyName: 'rot-list', pinVersion: true });
    const second = await h.cmkAccount({ keyName: 'rot-list', pinVersion: true, vault: first.vault });
    const third = await h.cmkAccount({ keyName: 'rot-list-2', pinVersion: false, vault: first.vault });
    const gone = { ...first.account, name: 'stnotthere' };
    const keyOf = (k: KeyState) => `${k.vaultUri.toLowerCase()}keys/${k.name.toLowerCase()}`;
    h.local.requestLog.clear();
    const keys = await h.run((a) =>
      a.keysInUse({ accounts: [first.account, gone, second.account, third.account, first.account] }),
    );
    assert.deepEqual(keys, [keyOf(first.key), null, keyOf(first.key), keyOf(third.key), keyOf(first.key)]);
    const listed = h.local.requestLog.entries({ operation: 'storageAccounts.list' });
    assert.ok(listed.length >= 1, 'the list was read');
    // Paging stops once the next page would cost more than reading the accounts left one by one.
    const byItself = h.local.requestLog.entries({ operation: 'storageAccounts.getProperties' });
    assert.ok(
      byItself.every((e) => e.path.endsWith('/stnotthere')),
      `only an account the pages read lacked is read by itself: ${byItself.map((e) => e.path).join(', ')}`,
    );
    assert.ok(listed.length + byItself.length < 4, 'fewer ARM reads than one per distinct account');
    h.local.requestLog.clear();
    assert.deepEqual(await h.run((a) => a.keysInUse({ accounts: [third.account] })), [keyOf(third.key)]);
    assert.deepEqual(
      h.local.requestLog.entries({ service: 'arm' }).map((e) => e.operation),
      ['storageAccounts.getProperties'],
    );
  });

  test('when three pinned accounts on one key rotate under one rotation id, then the key gains one version and all three move to it', async () => {
    const first = await h.cmkAccount({ keyName: 'rot-shared', pinVersion: true });
    const others = [
      await h.cmkAccount({ keyName: 'rot-shared', pinVersion: true, vault: first.vault }),
      await h.cmkAccount({ keyName: 'rot-shared', pinVersion: true, vault: first.vault }),
    ];
    const accounts = [first.account, ...others.map((o) => o.account)];
    const results = [];
    for (const account of accounts)
      results.push(
        await h.run((a) =>
          a.rotateKey({ account, runId: `run-${account.name}`, rotationId: 'fleet-1', confirmWithinMs: 0 }),
        ),
      );

    assert.equal(new Set(results.map((r) => r.newVersion)).size, 1, 'one new version');
    assert.equal(await versions(first.key), 2);
    for (const account of accounts) assert.equal(keyVersionOf(account), results[0]!.newVersion);
  });

  test('when the key has 14 tags, then the rotate plan is blocked (Key Vault allows 15 tags; rotation adds 2) and rotateKey makes no version', async () => {
    const { account, key } = await h.cmkAccount({ keyName: 'rot-tags', pinVersion: true });
    const tags = Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`team${i}`, 'x']));
    await keys(key).updateKeyProperties(key.name, key.version, { tags: { ...tags, 'cmk-runbook-run': 'r' } });
    h.local.requestLog.clear();
    const plan = await h.run((a) => a.inspect({ account, request: { operation: 'rotate' } }));
    assert.match(blocker(plan, 'TooManyKeyTags')?.fix ?? '', /Remove 1 of its tags/);
    await assert.rejects(
      h.run((a) => a.rotateKey({ account, runId: 'run-tags', confirmWithinMs: 0 })),
      failsWith('TooManyKeyTags', /has 14 tags; rotation adds 2/),
    );
    assert.equal(h.local.requestLog.writes().length, 0, 'no Azure writes');
    assert.equal(await versions(key), 1);
  });

  test('when the existing key version expired, then configure is blocked with KeyExpired and the fix, and enable refuses it at once instead of waiting for propagation (Key Vault refuses wrapKey after exp)', async () => {
    const { vault, key } = await h.cmkAccount({ keyName: 'expired', pinVersion: false });
    await keys(key).updateKeyProperties(key.name, key.version, {
      expiresOn: new Date(h.local.clock.now().getTime() - DAY_MS),
    });
    const account = h.newAccount();
    h.local.requestLog.clear();
    const plan = await configurePlan(account, vault, key);
    assert.match(blocker(plan, 'KeyExpired')?.fix ?? '', /rotate the key|--expires/i);
    assert.equal(h.local.requestLog.writes().length, 0, 'the plan writes nothing');
    const identity = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    await h.run((a) => a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: key.name }));
    await assert.rejects(
      h.run((a) => a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion: false })),
      failsWith('KeyExpired', /expired/),
    );
  });

  test('when the existing key version is not yet valid (nbf ahead), then configure is blocked with KeyNotYetValid and the fix, with zero writes', async () => {
    const { vault, key } = await h.cmkAccount({ keyName: 'notyet', pinVersion: false });
    await keys(key).updateKeyProperties(key.name, key.version, {
      notBefore: new Date(h.local.clock.now().getTime() + 2 * DAY_MS),
    });
    const account = h.newAccount();
    h.local.requestLog.clear();
    const plan = await configurePlan(account, vault, key);
    assert.match(blocker(plan, 'KeyNotYetValid')?.fix ?? '', /activation date|--not-before/);
    assert.equal(h.local.requestLog.writes().length, 0);
  });

  test('when a soft-deleted key holds the name, then configure is blocked with KeySoftDeleted (recover or another name) and ensureKey maps 409 ObjectIsDeletedButRecoverable to it', async () => {
    const { vault, key } = await h.cmkAccount({ keyName: 'gone', pinVersion: false });
    const other = await h.cmkAccount({ keyName: 'keep', pinVersion: false, vault });
    void other;
    await h.azure.keyVault(SUB).vaults.updateAccessPolicy(vault.resourceGroup, vault.name, 'add', {
      properties: {
        accessPolicies: [
          {
            tenantId: h.local.credentials.tenantId,
            objectId: RUNBOOK_OID,
            permissions: { keys: ['delete'] },
          },
        ],
      },
    });
    const account = h.newAccount();
    // Storage no longer uses it once its account is gone; delete it through Key Vault.
    await (await keys(key).beginDeleteKey(key.name)).pollUntilDone();
    h.local.requestLog.clear();
    const plan = await configurePlan(account, vault, key);
    const b = blocker(plan, 'KeySoftDeleted');
    assert.ok(b, JSON.stringify(plan.blockers));
    assert.match(b.fix, /az keyvault key recover .*--name gone.*or choose another key name/);
    assert.equal(h.local.requestLog.writes().length, 0);
    await assert.rejects(
      h.run((a) => a.ensureKey({ vault, key: { name: 'gone', type: 'RSA', size: 2048 }, runId: 'r-gone' })),
      failsWith('KeySoftDeleted', /recover it/),
    );
  });

  test('when the key exists with another size than the requester named, then ensureKey refuses it with KeyMismatch instead of using it silently, and without a named size it is used as it is', async () => {
    const { vault, key } = await h.cmkAccount({ keyName: 'sized', pinVersion: false });
    await assert.rejects(
      h.run((a) =>
        a.ensureKey({
          vault,
          key: { name: key.name, type: 'RSA', size: 4096, mustMatch: true },
          runId: 'r-size',
        }),
      ),
      failsWith('KeyMismatch', /exists as RSA 2048 bits, not the RSA 4096 asked for\. Fix: ask for RSA 2048/),
    );
    const used = await h.run((a) =>
      a.ensureKey({ vault, key: { name: key.name, type: 'RSA', size: 4096 }, runId: 'r-size2' }),
    );
    assert.equal(used.version, key.version);
  });

  test('when RSA-HSM is asked for in a vault the run would create as standard, then the plan is blocked before any write (HSM keys need premium)', async () => {
    const account = h.newAccount();
    h.local.requestLog.clear();
    const plan = await planConfigure(h, account, {
      vault: { name: h.vaultName(), resourceGroup: RG_KEYS },
      key: { name: 'hsm', type: 'RSA-HSM', size: 2048 },
    });
    assert.match(blocker(plan, 'HsmNotSupportedOnStandardVault')?.fix ?? '', /premium/);
    assert.equal(h.local.requestLog.writes().length, 0);
  });

  test('when the vault firewall refuses the runbook address (403 ForbiddenByFirewall, key-vault network-security), then rotate and configure plans are blocked with firewall advice, not a role, and ensureKey says the same', async () => {
    const { account, vault, key } = await h.cmkAccount({ keyName: 'walled', pinVersion: true });
    await h.azure.keyVault(SUB).vaults.update(vault.resourceGroup, vault.name, {
      properties: {
        networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: '198.51.100.7' }] },
      },
    });
    h.local.requestLog.clear();
    const rotate = await h.run((a) => a.inspect({ account, request: { operation: 'rotate' } }));
    assert.deepEqual(
      rotate.blockers.map((b) => b.code),
      ['ForbiddenByFirewall'],
    );
    assert.match(rotate.blockers[0]!.fix, /az keyvault network-rule add --name .* --ip-address/);
    const configure = await configurePlan(h.newAccount(), vault, key);
    const b = blocker(configure, 'ForbiddenByFirewall');
    assert.ok(b, JSON.stringify(configure.blockers));
    assert.doesNotMatch(JSON.stringify(configure), /Crypto Officer/);
    assert.equal(h.local.requestLog.writes().length, 0);
    await assert.rejects(
      h.run((a) => a.ensureKey({ vault, key: { name: 'walled2', type: 'RSA', size: 2048 }, runId: 'r-fw' })),
      failsWith('ForbiddenByFirewall', /firewall.*network-rule add/),
    );
  });

  test('when a modulus comes with a leading zero byte, then the key size is read without it (RFC 7518 6.3.1.1)', () => {
    const n = new Uint8Array(257);
    n[1] = 0xc3;
    assert.equal(keySizeOf({ key: { n } } as unknown as KeyVaultKey), 2048);
    assert.equal(keySizeOf({ key: { n: n.subarray(1) } } as unknown as KeyVaultKey), 2048);
  });
});
