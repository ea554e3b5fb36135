import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Operation, RunResult } from '../../src/shared/runbooks';
import type { InputByOperation } from '../../src/shared/start';
import { signedStartOptions } from '../helpers/trust';
import { printTable, type Row } from '../chaos/support';
import { startSecurityStack, textOf, WHO, type SecurityStack } from './stack';

const rows: Row[] = [];
const SUB = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';
const ID = `/subscriptions/${SUB}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts`;

/** Chat commands that must be answered with the named problem. */
const COMMANDS: [string, RegExp][] = [
  ['', /The message is empty/],
  ['rotat stcontoso', /"rotat" is not a command/],
  ['configure', /storage account is missing/],
  ['configure StContoso', /3–24 lowercase letters and digits/],
  ['configure st', /3–24 lowercase letters and digits/],
  ['configure st-contoso', /3–24 lowercase letters and digits/],
  ['configure stcontosostcontosostcontoso1', /3–24 lowercase letters and digits/],
  ['configure stcontoso --key-size 1024', /--key-size: must be one of 2048, 3072, 4096/],
  ['configure stcontoso --key-size big', /--key-size: must be one of 2048, 3072, 4096/],
  ['configure stcontoso --vault 1vault', /--vault: a vault name/],
  ['configure stcontoso --vault kv', /--vault: a vault name/],
  ['configure stcontoso --vault kv--double', /--vault: a vault name/],
  ['configure stcontoso --key bad_key!', /--key: /],
  ['configure stcontoso --key', /--key needs a value/],
  ['configure stcontoso --colour blue', /"--colour" is not an option of configure/],
  ['configure stcontoso --hsm --hsm', /--hsm is given twice/],
  ['configure stcontoso --hsm=yes', /--hsm takes no value/],
  ['configure stcontoso --user-identity not-an-id', /user-identity/i],
  ['rotate stcontoso stfinance', /Unexpected "stfinance"/],
  ['revoke /subscriptions/x', /storage account resource id looks like/],
  [
    `disable /subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stx`,
    /subscription|resource id/i,
  ],
  ['change-key stcontoso', /--key <name> or --key-uri <uri> is required/],
  [
    'change-key stcontoso --key-uri https://hsm1.managedhsm.azure.net/keys/k',
    /Managed HSM keys are not supported yet/,
  ],
  [
    'configure stcontoso --key-uri https://kv-contoso.vault.azure.net/secrets/x',
    /--key-uri: a key URI looks like/,
  ],
  [
    'configure stcontoso --key-version 1234',
    /--key-version: a key version is 32 lowercase hexadecimal characters/,
  ],
  [
    'configure stcontoso --pin-version --versionless',
    /--pin-version and --versionless cannot be given together/,
  ],
  [
    'configure stcontoso --vault kv-elsewhere --vault-subscription 00000000-0000-4000-8000-000000000000',
    /--vault-subscription 00000000-0000-4000-8000-000000000000 is not one this bot may change/,
  ],
  [
    'update-version stcontoso --key-version latest',
    /--key-version: a key version is 32 lowercase hexadecimal/,
  ],
  ['update-version stcontoso --latest --versionless', /--latest and --versionless cannot be given together/],
  ['revoke stcontoso --disable-key=now', /--disable-key takes no value/],
  ['restore-access', /The storage account is missing/],
  ['set-rotation-policy kv-contoso/cmk-key --expire-after 10d', /--expire-after: must be at least 28 days/],
  ['set-rotation-policy kv-contoso/cmk-key --rotate-before 30d', /--rotate-before: needs --expire-after/],
  ['set-rotation-policy kv-contoso', /a key is named by its vault and name/],
  [
    'rotate-fleet --tag nosuchtag=none',
    /No storage account with tag nosuchtag=none in the configured subscriptions/,
  ],
  ['rotate-fleet --subscription 00000000-0000-4000-8000-000000000000', /is not one this bot may change/],
  ['rotate-fleet --colour blue', /"--colour" is not an option of rotate-fleet/],
  ['plan revoke stcontoso --colour blue', /"--colour" is not an option of revoke/],
  ['plan runs', /"runs" cannot be planned/],
  ['schedule-rotation stcontoso', /--every <duration> is required/],
  ['schedule-rotation stcontoso --every soon', /--every: a duration like 30m/],
  ['schedule-rotation stcontoso --every 5s', /--every: at least 7d \(got "5s"\)/],
  ['schedule-rotation stcontoso --every 6d', /--every: at least 7d/],
  ['cancel', /storage account is missing/],
  ['cancel stcontoso --force', /"--force" is not an option of cancel/],
  ['cancel stnosuchaccount00', /No storage account named "stnosuchaccount00"/],
  [`rotate ${ID.replace(SUB, '00000000-0000-4000-8000-000000000000')}/stelsewhere`, /subscription/i],
  ['disable stdoesnotexist000', /stdoesnotexist000/],
];

describe('bad inputs through the real entry points', () => {
  let s: SecurityStack;
  before(async () => {
    s = await startSecurityStack();
  });
  after(async () => {
    await s?.close();
    printTable('Security: bad inputs (each answered with a specific error and 0 Azure writes)', rows);
  });

  for (const [text, problem] of COMMANDS) {
    test(`when the chat command "${text}" arrives, then the bot names the problem and Azure sees no write`, async () => {
      const writes = s.local.requestLog.writes().length;
      const { status, replies } = await s.say(WHO.requester, text);
      const written = s.local.requestLog.writes().length - writes;
      const got =
        replies.split('\n').find((l) => problem.test(l)) ??
        replies.split('\n').filter(Boolean)[0] ??
        '(no reply)';
      rows.push({
        case: `chat: ${text || '(empty)'}`,
        expected: `${problem.source}; 0 writes`,
        got: `${got}; ${written} writes`,
        pass: status === 200 && problem.test(replies) && written === 0,
      });
      assert.equal(status, 200);
      assert.match(replies, problem);
      assert.equal(written, 0);
    });
  }

  const base = () => ({ requester: WHO.requester });
  const account = (name = `stsec${randomUUID().replace(/-/g, '').slice(0, 10)}`) => ({
    subscriptionId: SUB,
    resourceGroup: 'rg-storage',
    name,
  });
  const configure = (over: Partial<InputByOperation['configure']>): InputByOperation['configure'] => ({
    account: account(),
    vault: { name: `kv-sec-${randomUUID().slice(0, 8)}` },
    key: { name: 'cmk-key', type: 'RSA', size: 2048 },
    identity: { type: 'SystemAssigned' },
    pinVersion: false,
    ...base(),
    ...over,
  });
  const RUNS: [string, Operation, () => InputByOperation[Operation], RegExp][] = [
    [
      'key size 1024',
      'configure',
      () => configure({ key: { name: 'cmk-key', type: 'RSA', size: 1024 as 2048 } }),
      /key\.size/,
    ],
    [
      'key type EC',
      'configure',
      () => configure({ key: { name: 'cmk-key', type: 'EC' as 'RSA', size: 2048 } }),
      /key\.type/,
    ],
    [
      'vault name with underscore',
      'configure',
      () => configure({ vault: { name: 'kv_bad' } }),
      /vault\.name/,
    ],
    [
      'vault name too long',
      'configure',
      () => configure({ vault: { name: `kv-${'x'.repeat(30)}` } }),
      /vault\.name/,
    ],
    [
      'key name with a space',
      'configure',
      () => configure({ key: { name: 'cmk key', type: 'RSA', size: 2048 } }),
      /key\.name/,
    ],
    ['account name upper case', 'configure', () => configure({ account: account('StBad') }), /name/],
    [
      'subscription not a GUID',
      'configure',
      () => configure({ account: { ...account(), subscriptionId: 'not-a-guid' } }),
      /subscription/i,
    ],
    [
      'resource group with a slash',
      'configure',
      () => configure({ account: { ...account(), resourceGroup: 'rg/../x' } }),
      /resourceGroup/i,
    ],
    [
      'user-assigned identity not a resource id',
      'configure',
      () =>
        configure({ account: s.newAccount(), identity: { type: 'UserAssigned', resourceId: 'not-an-id' } }),
      /identity|resource id/i,
    ],
    [
      'rotation confirm window "forever"',
      'rotate',
      () => ({ account: account(), confirmWithin: 'forever', ...base() }),
      /confirmWithin|duration/i,
    ],
    [
      'rotation policy rotateAfter "soon"',
      'setRotationPolicy',
      () => ({ account: account(), rotateAfter: 'soon', ...base() }),
      /rotateAfter|duration/i,
    ],
    [
      'rotation policy expiresAfter "-5d"',
      'setRotationPolicy',
      () => ({ account: account(), expiresAfter: '-5d', ...base() }),
      /expiresAfter|duration/i,
    ],
  ];
  for (const [name, operation, input, problem] of RUNS) {
    test(`when ${operation} is started with ${name}, then the run ends invalid naming the field and Azure sees no write`, async () => {
      const writes = s.local.requestLog.writes().length;
      const { workflowType, ...options } = await signedStartOptions(operation, input(), s.taskQueue, {
        tenantId: s.tenantId,
      });
      const result = (await (await s.client.workflow.start(workflowType, options)).result()) as RunResult;
      const written = s.local.requestLog.writes().length - writes;
      rows.push({
        case: `${operation}: ${name}`,
        expected: `invalid: ${problem.source}; 0 writes`,
        got: `${result.outcome}: ${result.message}; ${written} writes`,
        pass: result.outcome === 'invalid' && problem.test(result.message) && written === 0,
      });
      assert.equal(result.outcome, 'invalid', result.message);
      assert.match(result.message, problem);
      assert.equal(written, 0);
    });
  }

  const CARDS: [string, string, unknown, RegExp][] = [
    ['card data missing', 'approve', null, /This card is not one of mine or is out of date\./],
    [
      'card naming a foreign workflow',
      'approve',
      { workflowId: 'payroll/run-1' },
      /This card is not one of mine or is out of date\./,
    ],
    [
      'card naming a run that does not exist',
      'approve',
      { workflowId: `cmk/${SUB}/rg-storage/stnosuchrun${randomUUID().slice(0, 6)}` },
      /This run no longer exists\./,
    ],
  ];
  for (const [name, verb, data, problem] of CARDS) {
    test(`when a ${name} is clicked, then the clicker is told why and Azure sees no write`, async () => {
      const writes = s.local.requestLog.writes().length;
      const response = await s.post(
        s.activity(WHO.alice, `a:personal-${randomUUID().slice(0, 8)}`, {
          type: 'invoke',
          name: 'adaptiveCard/action',
          value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
        }),
      );
      const shown = textOf((response.body as { value?: unknown } | undefined)?.value);
      const written = s.local.requestLog.writes().length - writes;
      rows.push({
        case: `card: ${name}`,
        expected: `${problem.source}; 0 writes`,
        got: `${shown.split('\n').find((l) => problem.test(l)) ?? shown.slice(0, 60)}; ${written} writes`,
        pass: problem.test(shown) && written === 0,
      });
      assert.match(shown, problem);
      assert.equal(written, 0);
    });
  }
});
