import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSecretCredential } from '@azure/identity';
import { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import type { LocalAzure } from '../../src/local-azure';
import { KeyVaultLimits, transactionCost } from '../../src/local-azure/limits';
import { clientsFor, retryOptions, RG_KEYS } from './clients';
import { addWrapOnlyPrincipal, createCmkVault, plain, RUNBOOK_OID, startForTest } from './fixtures';

const OTHER_TENANT = '0f0f0f0f-1111-4222-8333-444444444444';
const DAY_S = 86_400;

describe('Key Vault data-plane rules as Azure documents them', () => {
  let local: LocalAzure;
  let c: ReturnType<typeof clientsFor>;
  let keys: KeyClient;
  before(async () => {
    local = await startForTest();
    c = clientsFor(local);
    await createCmkVault(local, 'kv-rules', 'first');
    keys = c.keys('kv-rules');
  });
  after(() => local.close());

  test("when a vault belongs to another tenant, then its challenge names that tenant and the SDK's credential refuses to fetch a token for it (challenge-based auth, additionallyAllowedTenants)", async () => {
    await c.keyVault.vaults.beginCreateOrUpdateAndWait(
      RG_KEYS,
      'kv-foreign',
      {
        location: 'eastus',
        properties: {
          tenantId: OTHER_TENANT,
          sku: { family: 'A', name: 'standard' },
          accessPolicies: [{ tenantId: OTHER_TENANT, objectId: RUNBOOK_OID, permissions: { keys: ['all'] } }],
        },
      },
      { updateIntervalInMs: 5 },
    );
    await assert.rejects(
      c.keys('kv-foreign').getKey('any'),
      new RegExp(`not configured to acquire tokens for tenant ${OTHER_TENANT}`),
    );
    const challenge = local.requestLog.entries({ service: 'keyvault', status: 401 }).at(-1);
    assert.equal(challenge?.host, 'kv-foreign.vault.azure.net');
  });

  test('when a token of the home tenant reaches a vault of another tenant, then Key Vault answers 401 AKV10032 Invalid issuer (azure-sdk-for-js #6221)', async () => {
    const home = new ClientSecretCredential(
      local.tenantId,
      local.credentials.clientId,
      local.credentials.clientSecret,
      { agent: local.agent },
    );
    // A credential that ignores the challenge's tenant, as older or hand-written clients do.
    const stubborn = { getToken: (scopes: string | string[]) => home.getToken(scopes) };
    const client = new KeyClient('https://kv-foreign.vault.azure.net', stubborn, {
      agent: local.agent,
      retryOptions,
    });
    await assert.rejects(
      client.getKey('any'),
      (e: { statusCode?: number; message: string }) =>
        e.statusCode === 401 &&
        e.message.startsWith(
          `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${OTHER_TENANT}/, found https://sts.windows.net/${local.tenantId}/`,
        ),
    );
  });

  test('when key_ops names an operation that is not a JSON web key operation, then create and update are refused with 400 BadParameter (Key Vault REST spec: JsonWebKeyOperation)', async () => {
    await assert.rejects(
      keys.createRsaKey('bad-ops', { keyOps: ['wrapKey', 'launch'] }),
      (e: { statusCode?: number; code?: string; message: string }) =>
        e.statusCode === 400 && e.code === 'BadParameter' && /launch/.test(e.message),
    );
    assert.equal(local.state.listKeyVersions('kv-rules', 'bad-ops').length, 0);
    await assert.rejects(
      keys.updateKeyProperties('first', { keyOps: ['unwrap'] }),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'BadParameter',
    );
    const ok = await keys.createRsaKey('good-ops', { keyOps: ['wrapKey', 'unwrapKey'] });
    assert.deepEqual(ok.keyOperations, ['wrapKey', 'unwrapKey']);
  });

  test('when a key is not yet valid or has expired, then unwrap still works and wrap is refused with 403 (about-keys-details: date-time controlled operations)', async () => {
    // A principal that may only wrap and unwrap, so the SDK cannot fetch the key and wrap locally.
    const wrapper = await addWrapOnlyPrincipal(local, 'kv-rules');
    const crypto = (kid: string) =>
      new CryptographyClient(kid, wrapper, { agent: local.agent, retryOptions });
    const now = Math.floor(local.clock.now().getTime() / 1000);
    const early = await keys.createRsaKey('not-yet', { notBefore: new Date((now + DAY_S) * 1000) });
    const secret = Buffer.from('account encryption key');
    await assert.rejects(
      crypto(early.id!).wrapKey('RSA-OAEP', secret),
      (e: { statusCode?: number }) => e.statusCode === 403,
    );
    // Wrapped with the public key on this side, as Azure Storage does when it holds the key.
    const wrappedLocally = await new CryptographyClient(early.key!).wrapKey('RSA-OAEP', secret);
    const unwrapped = await crypto(early.id!).unwrapKey('RSA-OAEP', wrappedLocally.result);
    assert.deepEqual(Buffer.from(unwrapped.result), secret);

    const late = await keys.createRsaKey('expiring');
    const before = await crypto(late.id!).wrapKey('RSA-OAEP', secret);
    await keys.updateKeyProperties('expiring', late.properties.version!, {
      expiresOn: new Date((now + 60) * 1000),
    });
    local.clock.advance(120_000);
    await assert.rejects(crypto(late.id!).wrapKey('RSA-OAEP', secret), (e: { statusCode?: number }) => {
      return e.statusCode === 403;
    });
    const again = await crypto(late.id!).unwrapKey('RSA-OAEP', before.result);
    assert.deepEqual(Buffer.from(again.result), secret);
  });

  test('when deleted keys are listed, then the SDK parses every item with its name and recovery id (DeletedKeyItem)', async () => {
    await keys.createRsaKey('to-list');
    await (await keys.beginDeleteKey('to-list', { intervalInMs: 5 })).pollUntilDone();
    const listed = [];
    for await (const d of keys.listDeletedKeys()) listed.push(d);
    assert.deepEqual(
      listed.map((d) => [d.name, d.properties.recoveryId, d.properties.deletedOn instanceof Date]),
      [['to-list', 'https://kv-rules.vault.azure.net/deletedkeys/to-list', true]],
    );
  });

  test('when a rotation policy only notifies before expiry and sets no expiry, then Key Vault accepts it, as its own default policy is exactly that (get-key-rotation-policy recordings)', async () => {
    const set = await keys.updateKeyRotationPolicy('first', {
      lifetimeActions: [{ action: 'Notify', timeBeforeExpiry: 'P14D' }],
    });
    assert.deepEqual(plain(set.lifetimeActions), [{ action: 'Notify', timeBeforeExpiry: 'P14D' }]);
    assert.equal(set.expiresIn, undefined);
  });

  test('when HSM keys are created in a premium vault, then the eleventh create within 10 seconds is throttled with 429 (service-limits: HSM CREATE key 10)', async () => {
    const impatient = new KeyClient('https://kv-rbac.vault.azure.net', c.credential, {
      agent: local.agent,
      retryOptions: { maxRetries: 0 },
    });
    // All at once, so they land in one 10-second window however long key generation takes.
    const created = await Promise.all(
      Array.from({ length: 11 }, (_, i) =>
        impatient.createRsaKey(`hsm-burst-${i}`, { hsm: true }).then(
          () => 200,
          (e: { statusCode?: number }) => e.statusCode,
        ),
      ),
    );
    assert.deepEqual(created.sort(), [...Array<number>(10).fill(200), 429]);
  });

  test("when larger or HSM keys are used, then each operation spends more of the vault's one weighted budget: 4,000 for RSA 2048, 1,000 for 3072, 500 for 4096, half for HSM (service-limits: thresholds are weighted)", () => {
    const cost = (size: number, hsm = false) => transactionCost({ kind: 'other', key: { hsm, size } });
    assert.deepEqual(
      [cost(2048), cost(3072), cost(4096), cost(2048, true), cost(3072, true), cost(4096, true)],
      [1, 4, 8, 2, 8, 16],
    );
    assert.deepEqual(
      [
        transactionCost({ kind: 'create', key: { hsm: false, size: 4096 } }),
        transactionCost({ kind: 'create', key: { hsm: true, size: 2048 } }),
      ],
      [1, 2],
    );
    const limits = new KeyVaultLimits();
    const kv = vaultIn('kv');
    const big = { kind: 'other', key: { hsm: false, size: 4096 } } as const;
    for (let i = 0; i < 500; i++) assert.equal(limits.take(kv, big).ok, true);
    assert.equal(limits.take(kv, big).ok, false, 'the 501st 4096-bit operation is throttled');
    assert.equal(
      limits.take(kv, { kind: 'other', key: { hsm: false, size: 2048 } }).ok,
      false,
      'and so is any other operation: the budget is shared',
    );
    assert.equal(limits.take(kv, { kind: 'create', key: { hsm: false, size: 2048 } }).ok, true);
  });

  test("when keys are created in six vaults of one subscription and region, then the 101st create within 10 s is throttled although its vault has room, and another region or subscription is not (overview-throttling: the subscription-wide limit is five times the vault's, per region)", () => {
    const limits = new KeyVaultLimits();
    const create = { kind: 'create', key: { hsm: false, size: 2048 } } as const;
    const vaults = Array.from({ length: 6 }, (_, i) => vaultIn(`kv-${i}`));
    // 20 creates in each of the first five vaults: each at its own limit, the subscription at 100.
    for (const vault of vaults.slice(0, 5))
      for (let i = 0; i < 20; i++) assert.equal(limits.take(vault, create).ok, true);
    const sixth = limits.take(vaults[5]!, create);
    assert.equal(sixth.ok, false, 'the sixth vault has room, the subscription has none');
    assert.equal(!sixth.ok && sixth.scope, 'subscription');
    assert.ok(!sixth.ok && sixth.retryAfterSeconds >= 1 && sixth.retryAfterSeconds <= 10);
    assert.equal(
      limits.take(vaults[5]!, { kind: 'other', key: { hsm: false, size: 2048 } }).ok,
      true,
      'other transactions are their own pool',
    );
    assert.equal(limits.take(vaultIn('kv-west', 'West Europe'), create).ok, true, 'another region');
    assert.equal(
      limits.take(vaultIn('kv-other', 'eastus', OTHER_SUBSCRIPTION), create).ok,
      true,
      'another subscription',
    );
    assert.equal(
      limits.take(vaultIn('kv-east2', 'East US'), create).ok,
      false,
      '"East US" is the region "eastus"',
    );
  });

  test("when a create is throttled by its vault, then it spends nothing of the subscription's window (overview-throttling: requests answered 429 do not count)", () => {
    const limits = new KeyVaultLimits();
    const create = { kind: 'create', key: { hsm: false, size: 2048 } } as const;
    const [full, ...others] = Array.from({ length: 5 }, (_, i) => vaultIn(`kv-count-${i}`));
    for (let i = 0; i < 20; i++) assert.equal(limits.take(full!, create).ok, true);
    for (let i = 0; i < 50; i++) {
      const refused = limits.take(full!, create);
      assert.equal(!refused.ok && refused.scope, 'vault');
    }
    // Had the 50 refusals counted, the subscription would be at 70 of 100 and 30 of these would fail.
    for (const vault of others)
      for (let i = 0; i < 20; i++) assert.equal(limits.take(vault, create).ok, true);
    assert.equal(limits.take(vaultIn('kv-count-5'), create).ok, false, 'and the 101st is refused');
  });
});

const OTHER_SUBSCRIPTION = '22222222-3333-4444-8555-666666666666';

/** A vault in subscription `subscriptionId` (one fixed id unless given) and `location`. */
function vaultIn(
  name: string,
  location = 'eastus',
  subscriptionId = '11111111-2222-4333-8444-555555555555',
): { name: string; subscriptionId: string; location: string } {
  return { name, subscriptionId, location };
}
