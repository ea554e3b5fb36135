import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCommand, usageOf } from '../../src/bot/commands';

const ACCOUNT_ID =
  '/subscriptions/3f1c9a2e-7b64-4d0e-a5c8-0000000000a1/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/stcontoso';

describe('chat commands', () => {
  test('when configure names only an account, then defaults are RSA 2048, versionless, system identity', () => {
    assert.deepEqual(parseCommand('configure stcontoso'), {
      kind: 'configure',
      account: { name: 'stcontoso' },
      key: {},
      allowPurgeProtection: false,
    });
  });

  test('when configure has every option, then each is parsed and validated', () => {
    const identity =
      '/subscriptions/3f1c9a2e-7b64-4d0e-a5c8-0000000000a1/resourceGroups/rg-keys/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cmk';
    assert.deepEqual(
      parseCommand(
        `configure stcontoso --vault kv-contoso --key=cmk-2 --key-size 4096 --hsm --pin-version --enable-purge-protection --user-identity ${identity}`,
      ),
      {
        kind: 'configure',
        account: { name: 'stcontoso' },
        key: { vault: 'kv-contoso', key: 'cmk-2', keySize: 4096, keyType: 'RSA-HSM', pinVersion: true },
        allowPurgeProtection: true,
        userIdentity: identity,
      },
    );
  });

  test('when the bot is @mentioned in a channel, then the mention is ignored', () => {
    assert.deepEqual(parseCommand('<at>cmk-runbook</at>&nbsp;rotate stcontoso'), {
      kind: 'rotate',
      account: { name: 'stcontoso' },
    });
  });

  test('when an account is given as a resource id, then it is parsed into its parts', () => {
    assert.deepEqual(parseCommand(`revoke ${ACCOUNT_ID}`), {
      kind: 'revoke',
      disableKey: false,
      account: {
        ref: {
          subscriptionId: '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1',
          resourceGroup: 'rg-storage',
          name: 'stcontoso',
        },
      },
    });
  });

  test('when commands need no account, then they parse alone', () => {
    assert.deepEqual(parseCommand('HELP'), { kind: 'help' });
    assert.deepEqual(parseCommand('runs'), { kind: 'runs' });
    assert.deepEqual(parseCommand('status'), { kind: 'status' });
    assert.deepEqual(parseCommand('status stfinance'), { kind: 'status', account: { name: 'stfinance' } });
    assert.deepEqual(parseCommand('disable stfinance'), { kind: 'disable', account: { name: 'stfinance' } });
    assert.deepEqual(parseCommand('pending'), { kind: 'pending' });
  });

  test('when change-key and the schedules are complete, then they parse', () => {
    assert.deepEqual(parseCommand('change-key stcontoso --key cmk-new --vault kv-other'), {
      kind: 'changeKey',
      account: { name: 'stcontoso' },
      key: { key: 'cmk-new', vault: 'kv-other' },
    });
    assert.deepEqual(parseCommand('schedule-rotation stcontoso --every 90d'), {
      kind: 'scheduleRotation',
      account: { name: 'stcontoso' },
      every: '90d',
      everyMs: 90 * 86_400_000,
      replace: false,
    });
    assert.deepEqual(parseCommand('schedule-rotation stcontoso --every 30d --replace'), {
      kind: 'scheduleRotation',
      account: { name: 'stcontoso' },
      every: '30d',
      everyMs: 30 * 86_400_000,
      replace: true,
    });
    assert.deepEqual(parseCommand('cancel stcontoso'), { kind: 'cancel', account: { name: 'stcontoso' } });
    assert.deepEqual(parseCommand('unschedule-rotation stcontoso'), {
      kind: 'unscheduleRotation',
      account: { name: 'stcontoso' },
    });
  });

  const mistakes: [string, RegExp, string][] = [
    ['configure', /storage account is missing/, 'configure'],
    ['configure StContoso', /3–24 lowercase letters and digits/, 'configure'],
    ['configure stcontoso --key-size 1024', /--key-size: must be one of 2048, 3072, 4096/, 'configure'],
    ['configure stcontoso --key-size big', /--key-size: must be one of 2048, 3072, 4096/, 'configure'],
    ['configure stcontoso --vault 1vault', /--vault: a vault name/, 'configure'],
    ['configure stcontoso --colour blue', /"--colour" is not an option of configure/, 'configure'],
    ['configure stcontoso --hsm --hsm', /--hsm is given twice/, 'configure'],
    ['configure stcontoso --hsm=yes', /--hsm takes no value/, 'configure'],
    [
      'configure stcontoso --user-identity nope',
      /--user-identity: a user-assigned identity resource id/,
      'configure',
    ],
    ['change-key stcontoso', /--key <name> or --key-uri <uri> is required/, 'change-key'],
    ['change-key stcontoso --key', /--key needs a value/, 'change-key'],
    ['schedule-rotation stcontoso', /--every <duration> is required/, 'schedule-rotation'],
    ['schedule-rotation stcontoso --every soon', /--every: a duration like 30m/, 'schedule-rotation'],
    ['schedule-rotation stcontoso --every 5s', /--every: at least 7d \(got "5s"\)/, 'schedule-rotation'],
    ['cancel', /The storage account is missing/, 'cancel'],
    ['rotate stcontoso stfinance', /Unexpected "stfinance"/, 'rotate'],
    ['revoke /subscriptions/x', /storage account resource id looks like/, 'revoke'],
  ];
  for (const [text, problem, word] of mistakes) {
    test(`when "${text}" is sent, then the error names the problem and shows the right form`, () => {
      const result = parseCommand(text);
      assert.equal(result.kind, 'error');
      if (result.kind !== 'error') return;
      assert.match(result.problem, problem);
      assert.equal(result.usage, usageOf(word));
      assert.equal(result.command, word);
    });
  }

  test('when the word is not a command, then every form is listed', () => {
    const result = parseCommand('rotat stcontoso');
    assert.equal(result.kind, 'error');
    if (result.kind !== 'error') return;
    assert.match(result.problem, /"rotat" is not a command/);
    assert.match(result.usage, /^help$/m);
    assert.match(result.usage, /^rotate <account>$/m);
    assert.match(result.usage, /^unschedule-rotation <account>$/m);
  });

  test('when the message is empty, then it says so', () => {
    const result = parseCommand('  <at>cmk-runbook</at> ');
    assert.equal(result.kind, 'error');
    assert.match(result.kind === 'error' ? result.problem : '', /empty/);
  });
});
