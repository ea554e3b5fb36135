import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMAND_FORMS, parseCommand, usageOf } from '../../src/bot/commands';
import { PARSE_PROBLEMS } from '../../src/bot/command-types';

const VERSION = '0123456789abcdef0123456789abcdef';
const SUB = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';

describe('the option surface of chat commands', () => {
  test('when configure names a key by a versioned URI, then vault, key and version are read from it and the account is pinned', () => {
    assert.deepEqual(
      parseCommand(`configure stcontoso --key-uri https://kv-contoso.vault.azure.net/keys/cmk-2/${VERSION}`),
      {
        kind: 'configure',
        account: { name: 'stcontoso' },
        key: { vault: 'kv-contoso', key: 'cmk-2', keyVersion: VERSION, pinVersion: true },
        allowPurgeProtection: false,
      },
    );
  });

  test('when change-key names a versionless URI in another subscription, then the vault placement is kept and the version mode is left to the account', () => {
    assert.deepEqual(
      parseCommand(
        `change-key stcontoso --key-uri https://kv-other.vault.azure.net/keys/cmk-new --vault-subscription ${SUB} --vault-resource-group rg-keys --key-type rsa-hsm --key-size 3072`,
      ),
      {
        kind: 'changeKey',
        account: { name: 'stcontoso' },
        key: {
          vault: 'kv-other',
          key: 'cmk-new',
          vaultSubscription: SUB,
          vaultResourceGroup: 'rg-keys',
          keyType: 'RSA-HSM',
          keySize: 3072,
        },
      },
    );
  });

  test('when change-key says --versionless or --pin-version, then that mode is asked for', () => {
    const versionless = parseCommand('change-key stcontoso --key k2 --versionless');
    assert.equal(versionless.kind === 'changeKey' && versionless.key.pinVersion, false);
    const pinned = parseCommand(`change-key stcontoso --key k2 --key-version ${VERSION}`);
    assert.equal(pinned.kind === 'changeKey' && pinned.key.pinVersion, true);
  });

  test('when update-version is given each of its targets, then each is read', () => {
    const target = (text: string) => {
      const c = parseCommand(text);
      return c.kind === 'updateVersion' ? c.target : c;
    };
    assert.deepEqual(target('update-version stcontoso'), { kind: 'latest' });
    assert.deepEqual(target('update-version stcontoso --previous'), { kind: 'previous' });
    assert.deepEqual(target('update-version stcontoso --versionless'), { kind: 'versionless' });
    assert.deepEqual(target(`update-version stcontoso --key-version ${VERSION.toUpperCase()}`), {
      kind: 'named',
      version: VERSION,
    });
  });

  test('when revoke has --disable-key and restore-access names an account, then both parse', () => {
    assert.deepEqual(parseCommand('revoke stcontoso --disable-key'), {
      kind: 'revoke',
      account: { name: 'stcontoso' },
      disableKey: true,
    });
    assert.deepEqual(parseCommand('restore-access stcontoso'), {
      kind: 'restoreAccess',
      account: { name: 'stcontoso' },
    });
  });

  test('when set-rotation-policy names a key and durations, then the key path and each duration are read', () => {
    assert.deepEqual(
      parseCommand('set-rotation-policy kv-contoso/cmk-key --expire-after 90d --rotate-before 30d'),
      {
        kind: 'setRotationPolicy',
        vault: 'kv-contoso',
        key: 'cmk-key',
        policy: { expireAfter: '90d', rotateBefore: '30d' },
      },
    );
  });

  test('when rotate-fleet selects by tag, resource group and subscription, then all three are kept', () => {
    assert.deepEqual(
      parseCommand(`rotate-fleet --tag env=prod --resource-group rg-storage --subscription ${SUB}`),
      {
        kind: 'rotateFleet',
        selector: { tag: { name: 'env', value: 'prod' }, resourceGroup: 'rg-storage', subscriptionId: SUB },
      },
    );
    assert.deepEqual(parseCommand('rotate-fleet --tag=cost-center=a=b'), {
      kind: 'rotateFleet',
      selector: { tag: { name: 'cost-center', value: 'a=b' } },
    });
  });

  test('when plan wraps an operation, then the operation is parsed with its own options', () => {
    assert.deepEqual(parseCommand('plan revoke stcontoso --disable-key'), {
      kind: 'plan',
      command: { kind: 'revoke', account: { name: 'stcontoso' }, disableKey: true },
    });
  });

  const mistakes: [string, RegExp, string, string][] = [
    [
      'configure stcontoso --key-uri https://kv.vault.azure.net/secrets/x',
      /--key-uri: a key URI looks like https:\/\/<vault>\.vault\.azure\.net\/keys\/<name>/,
      'configure',
      'invalid-value',
    ],
    [
      'configure stcontoso --key-uri https://hsm1.managedhsm.azure.net/keys/k',
      /Managed HSM keys are not supported yet/,
      'configure',
      'invalid-value',
    ],
    [
      'configure stcontoso --key-version 12345',
      /--key-version: a key version is 32 lowercase hexadecimal characters \(got "12345"\)/,
      'configure',
      'invalid-value',
    ],
    [
      'configure stcontoso --key-uri https://kv-a.vault.azure.net/keys/k --vault kv-b',
      /--key-uri and --vault cannot be given together: --key-uri already names the vault/,
      'configure',
      'conflicting-options',
    ],
    [
      'configure stcontoso --pin-version --versionless',
      /--pin-version and --versionless cannot be given together/,
      'configure',
      'conflicting-options',
    ],
    [
      `configure stcontoso --key-version ${VERSION} --versionless`,
      /--key-version pins the account to that version/,
      'configure',
      'conflicting-options',
    ],
    [
      `configure stcontoso --key-uri https://kv-a.vault.azure.net/keys/k/${VERSION} --versionless`,
      /--key-uri names a version, which pins the account/,
      'configure',
      'conflicting-options',
    ],
    [
      'configure stcontoso --hsm --key-type RSA',
      /--hsm is --key-type RSA-HSM/,
      'configure',
      'conflicting-options',
    ],
    [
      'configure stcontoso --key-type EC',
      /--key-type: must be one of RSA, RSA-HSM \(got "EC"\)/,
      'configure',
      'invalid-value',
    ],
    [
      `configure stcontoso --vault-subscription ${SUB}`,
      /--vault-subscription says where the vault named by --vault or --key-uri is; give --vault or --key-uri too/,
      'configure',
      'missing-option',
    ],
    [
      'configure stcontoso --vault kv-a --vault-subscription nope',
      /--vault-subscription: must be a GUID/,
      'configure',
      'invalid-value',
    ],
    [
      'change-key stcontoso --key-size 2048',
      /--key <name> or --key-uri <uri> is required/,
      'change-key',
      'missing-option',
    ],
    [
      'update-version stcontoso --latest --previous',
      /--latest and --previous cannot be given together/,
      'update-version',
      'conflicting-options',
    ],
    [
      'update-version stcontoso --key-version latest',
      /--key-version: a key version is 32 lowercase hexadecimal characters/,
      'update-version',
      'invalid-value',
    ],
    ['revoke stcontoso --disable-key=yes', /--disable-key takes no value/, 'revoke', 'unexpected-value'],
    ['restore-access', /The storage account is missing/, 'restore-access', 'missing-argument'],
    [
      'set-rotation-policy kv-contoso --expire-after 90d',
      /<vault>\/<key>: a key is named by its vault and name, like kv-contoso\/cmk-key/,
      'set-rotation-policy',
      'invalid-value',
    ],
    [
      'set-rotation-policy kv-contoso/cmk-key',
      /Say what to set: --expire-after, --rotate-before, --rotate-after or --notify-before/,
      'set-rotation-policy',
      'missing-option',
    ],
    [
      'set-rotation-policy kv-contoso/cmk-key --rotate-before 30d --rotate-after 60d',
      /Key Vault rotates on one trigger/,
      'set-rotation-policy',
      'conflicting-options',
    ],
    [
      'set-rotation-policy kv-contoso/cmk-key --expire-after soon',
      /--expire-after: a duration like 30m, 24h, 7d or ISO 8601 P30D/,
      'set-rotation-policy',
      'invalid-value',
    ],
    [
      'rotate-fleet',
      /Say which accounts: --tag, --resource-group or --subscription/,
      'rotate-fleet',
      'missing-option',
    ],
    ['rotate-fleet --tag a/b=c', /--tag: a tag is name=value/, 'rotate-fleet', 'invalid-value'],
    [
      'rotate-fleet --colour blue',
      /"--colour" is not an option of rotate-fleet \(options: --tag, --resource-group, --subscription\)/,
      'rotate-fleet',
      'unknown-option',
    ],
  ];
  for (const [text, problem, word, reason] of mistakes) {
    test(`when "${text}" is sent, then the error says ${reason} with its own sentence and shows the right form`, () => {
      const result = parseCommand(text);
      assert.equal(result.kind, 'error', JSON.stringify(result));
      if (result.kind !== 'error') return;
      assert.match(result.problem, problem);
      assert.equal(result.reason, reason);
      assert.equal(result.usage, usageOf(word));
      assert.equal(result.command, word);
    });
  }

  test('when plan names something that cannot be planned or a bad option of its operation, then the error shows the plan form', () => {
    const unknown = parseCommand('plan runs');
    assert.equal(unknown.kind === 'error' && unknown.reason, 'invalid-value');
    assert.match(
      unknown.kind === 'error' ? unknown.problem : '',
      /"runs" cannot be planned; plan one of configure, rotate/,
    );
    const inner = parseCommand('plan revoke stcontoso --colour blue');
    assert.equal(inner.kind === 'error' && inner.usage, `plan ${usageOf('revoke')}`);
    assert.equal(inner.kind === 'error' && inner.command, 'plan');
  });

  test('when the table is read, then it holds the new commands and their reason codes are the listed ones', () => {
    assert.ok(PARSE_PROBLEMS.includes('conflicting-options'));
    const words = COMMAND_FORMS.map((c) => c.word);
    for (const word of [
      'update-version',
      'restore-access',
      'set-rotation-policy',
      'rotate-fleet',
      'plan',
      'pending',
    ])
      assert.ok(words.includes(word), word);
  });
});
