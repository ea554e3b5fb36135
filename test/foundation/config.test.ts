import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config';

const ROOT = path.resolve(__dirname, '../..');
const TENANT = '7c0a5e1d-0b5e-4c1a-9e2f-00000000c0de';
const SUB = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';
const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';

const valid = {
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  AZURE_TENANT_ID: TENANT,
  CMK_SUBSCRIPTION_IDS: SUB,
  CMK_APPROVERS: `${ALICE},${BOB}`,
  CMK_QUORUM_REVOKE: '2',
};

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  test('when every key is valid, then the policy gives each operation its approvers and quorum', () => {
    const config = loadConfig(valid);
    assert.equal(config.temporal.address, '127.0.0.1:7233');
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.temporal.taskQueue, 'cmk-runbook');
    assert.deepEqual(config.azure.subscriptionIds, [SUB]);
    assert.deepEqual(config.policy.approvers.revoke, [ALICE, BOB]);
    assert.equal(config.policy.quorum.revoke, 2);
    assert.equal(config.policy.quorum.configure, 1);
    assert.equal(config.policy.deadline, '24h');
    assert.equal(config.policy.tenantId, TENANT);
    assert.equal(config.bot.host, '127.0.0.1', 'without bot credentials the bot binds to loopback');
  });

  test('when Azure keys are missing, then the error names each missing key', () => {
    const message = problemsOf({ TEMPORAL_ADDRESS: '127.0.0.1:7233' });
    assert.match(message, /AZURE_TENANT_ID: required/);
    assert.match(message, /CMK_SUBSCRIPTION_IDS: required/);
  });

  test('when values break their rules, then each problem names its key and the rule', () => {
    const message = problemsOf({
      ...valid,
      TEMPORAL_ADDRESS: 'not an address',
      CMK_SUBSCRIPTION_IDS: 'abc',
      CMK_APPROVERS: ALICE,
      CMK_QUORUM_DISABLE: '3',
      CMK_APPROVAL_DEADLINE: 'soon',
      MicrosoftAppId: '0b7c3c6e-5a14-4d55-9b1f-00000000a990',
    });
    assert.match(message, /TEMPORAL_ADDRESS: must be host:port/);
    assert.match(message, /CMK_SUBSCRIPTION_IDS: must be a GUID/);
    assert.match(message, /CMK_QUORUM_DISABLE: disable needs 3 approvals but only 1 approver/);
    assert.match(message, /CMK_APPROVAL_DEADLINE: a duration like/);
    assert.match(message, /MicrosoftAppPassword: required when MicrosoftAppId is set/);
  });

  test('when CMK_BOT_SDK is left out, then the bot runs on botbuilder; agents is taken; anything else is refused by name', () => {
    assert.equal(loadConfig(valid).bot.sdk, 'botbuilder');
    assert.equal(loadConfig({ ...valid, CMK_BOT_SDK: 'agents' }).bot.sdk, 'agents');
    assert.match(
      problemsOf({ ...valid, CMK_BOT_SDK: 'teams-ai' }),
      /CMK_BOT_SDK: must be one of botbuilder, agents/,
    );
  });

  test('when the Agents SDK would run in production without an app id, then start-up stops and says why, before the SDK would refuse', () => {
    const message = problemsOf({ ...valid, CMK_BOT_SDK: 'agents', NODE_ENV: 'production' });
    assert.match(
      message,
      /CMK_BOT_SDK: the Agents SDK refuses to run without MicrosoftAppId when NODE_ENV=production/,
    );
    const registered = loadConfig({
      ...valid,
      CMK_BOT_SDK: 'agents',
      NODE_ENV: 'production',
      MicrosoftAppId: '0b7c3c6e-5a14-4d55-9b1f-00000000a990',
      MicrosoftAppPassword: 'secret',
      MicrosoftAppTenantId: TENANT,
    });
    assert.equal(registered.bot.sdk, 'agents');
  });

  test('when a process loads only the parts it needs, then keys of other parts are not required', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' }, ['temporal']);
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.throws(() => config.azure.tenantId, /config part "azure" was not loaded/);
  });

  test('when the worker starts with a missing key or an unreachable TEMPORAL_ADDRESS, then it exits within seconds naming the key', () => {
    const run = (env: Record<string, string>): { status: number | null; stderr: string } => {
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'worker.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        encoding: 'utf8',
        timeout: 30_000,
      });
      return { status: result.status, stderr: result.stderr };
    };
    const missing = run({ TEMPORAL_ADDRESS: '127.0.0.1:7233', CMK_SUBSCRIPTION_IDS: SUB });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /AZURE_TENANT_ID: required/);

    const unreachable = run({ ...valid, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, /TEMPORAL_ADDRESS/);
  });
});
