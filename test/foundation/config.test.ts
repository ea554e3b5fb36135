import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { calculateJwkThumbprint } from 'jose';
import { ConfigError, keyIdOf, loadConfig } from '../../src/config';
import { TEAMS_SERVICE_URLS } from '../../src/shared/chat';
import { testPolicy } from '../helpers/stack';
import { TEST_BOT_KEY, workerTrustEnv } from '../helpers/trust';
import { TEST_PAYLOAD_ENV } from '../helpers/codec';
import { KEY_VAULT_CREATES_PER_10S, keyVaultFairness } from '../../src/shared/task-queues';

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

  test('when OTEL_SERVICE_NAME is set, then the telemetry part carries it for tracing; unset or blank, each process names itself', () => {
    assert.equal(
      loadConfig({ ...valid, OTEL_SERVICE_NAME: ' cmk-worker-eu ' }).telemetry.serviceName,
      'cmk-worker-eu',
    );
    assert.equal(loadConfig({ ...valid, OTEL_SERVICE_NAME: ' ' }).telemetry.serviceName, undefined);
    assert.equal(loadConfig(valid).telemetry.serviceName, undefined);
  });

  test('when Azure keys are missing, then the error names each missing key', () => {
    const message = problemsOf({ TEMPORAL_ADDRESS: '127.0.0.1:7233' });
    assert.match(message, /AZURE_TENANT_ID: required/);
    assert.match(message, /CMK_SUBSCRIPTION_IDS: required/);
  });

  test("when CMK_ARM_WRITES_PER_SECOND is unset, then each subscription's write queue runs at 9/s; when it is above ARM's refill or not a number, then start-up names the key and the rule", () => {
    assert.equal(loadConfig(valid).azure.armWritesPerSecond, 9);
    assert.equal(loadConfig({ ...valid, CMK_ARM_WRITES_PER_SECOND: '7.5' }).azure.armWritesPerSecond, 7.5);
    for (const bad of ['11', '0', 'fast'])
      assert.match(
        problemsOf({ ...valid, CMK_ARM_WRITES_PER_SECOND: bad }),
        new RegExp(
          `CMK_ARM_WRITES_PER_SECOND: must be a number above 0 and at most ARM's refill of 10 writes/s \\(got "${bad}"\\)`,
        ),
      );
  });

  test("when CMK_KEY_VAULT_CREATES_PER_SECOND is unset, then a vault's backlog of creates, dispatched by the server's limiter, fits Key Vault's 20 per 10 s (service-limits) in every window, fixed at any phase or sliding, with a quarter second to spare; only the first window after a quiet spell may see one more", () => {
    const perSecond = loadConfig(valid).azure.keyVaultCreatesPerSecond;
    for (const hsm of [false, true]) {
      const limit = hsm ? KEY_VAULT_CREATES_PER_10S.hsm : KEY_VAULT_CREATES_PER_10S.software;
      const rate = perSecond * keyVaultFairness('kv', hsm).fairnessWeight;
      // Temporal's limiter: a token bucket refilled at the rate that holds one second of it,
      // full after a quiet spell; a backlogged create goes as soon as a whole token is there.
      const sent: number[] = [];
      let tokens = rate;
      let at = 0;
      while (sent.length < 200) {
        if (tokens < 1) {
          at += (1 - tokens) / rate;
          tokens = 1;
        }
        tokens -= 1;
        sent.push(at);
      }
      // The most creates any 10-second window holds is the most that follow one create within 10 s.
      const inWindowFrom = (i: number): number =>
        sent.filter((t) => t >= sent[i]! && t < sent[i]! + 10).length;
      const steady = sent.findIndex((t) => t >= 10);
      assert.ok(Math.max(...sent.slice(steady, -limit - 1).map((_, k) => inWindowFrom(steady + k))) <= limit);
      assert.ok(inWindowFrom(0) <= limit + 1, 'the first window after a quiet spell: at most one 429');
      // The create that would be one too many comes this long after the window closes.
      const spare = sent[steady + limit]! - (sent[steady]! + 10);
      assert.ok(spare >= 0.25, `${hsm ? 'HSM' : 'software'}: ${spare.toFixed(3)} s to spare`);
    }
    assert.match(
      problemsOf({ ...valid, CMK_KEY_VAULT_CREATES_PER_SECOND: '2.5' }),
      /CMK_KEY_VAULT_CREATES_PER_SECOND: must be a number above 0 and at most Key Vault's 2 creates\/s per vault \(got "2.5"\)/,
    );
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

    const unreachable = run({
      ...valid,
      ...TEST_PAYLOAD_ENV,
      CMK_BOT_PUBLIC_KEYS: TEST_BOT_KEY.x,
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, /TEMPORAL_ADDRESS/);
  });

  test('when roles, always-approve, requesters and the tenant are configured, then the policy has each per operation', () => {
    const CAROL = '33333333-3333-4333-8333-333333333333';
    const config = loadConfig(
      {
        ...valid,
        CMK_QUORUM_REVOKE: '2',
        CMK_ROLES_REVOKE: `Key Vault=${ALICE};Storage=${BOB},${CAROL}`,
        CMK_ALWAYS_APPROVE: 'configure, rotate',
        CMK_REQUESTERS: ALICE,
        CMK_REQUESTERS_REVOKE: `${BOB},${CAROL}`,
        CMK_REQUESTERS_SCHEDULE_ROTATION: '*',
        CMK_APPROVAL_TENANT_ID: TENANT.toUpperCase(),
      },
      ['policy'],
    );
    const policy = config.policy;
    assert.deepEqual(policy.roles?.revoke, [
      { name: 'Key Vault', approvers: [ALICE] },
      { name: 'Storage', approvers: [BOB, CAROL] },
    ]);
    assert.deepEqual(policy.alwaysApprove, ['configure', 'rotate']);
    assert.deepEqual(policy.requesters?.configure, [ALICE]);
    assert.deepEqual(policy.requesters?.revoke, [BOB, CAROL]);
    assert.deepEqual(policy.requesters?.scheduleRotation, ['*']);
    assert.deepEqual(policy.requesters?.unscheduleRotation, [ALICE]);
    assert.equal(policy.tenantId, TENANT);
  });

  test('when the newer operations have their own keys, then restore-access, update-version, fleet rotation and rotation policies each read theirs, and a quorum beyond their approvers is refused by name', () => {
    const CAROL = '33333333-3333-4333-8333-333333333333';
    const policy = loadConfig(
      {
        ...valid,
        CMK_APPROVERS_RESTORE_ACCESS: CAROL,
        CMK_QUORUM_FLEET_ROTATE: '2',
        CMK_REQUESTERS: ALICE,
        CMK_REQUESTERS_UPDATE_VERSION: BOB,
        CMK_REQUESTERS_SET_ROTATION_POLICY: CAROL,
      },
      ['policy'],
    ).policy;
    assert.deepEqual(policy.approvers.restoreAccess, [CAROL]);
    assert.deepEqual(policy.approvers.updateVersion, [ALICE, BOB]);
    assert.equal(policy.quorum.fleetRotate, 2);
    assert.equal(policy.quorum.restoreAccess, 1);
    assert.deepEqual(policy.requesters?.updateVersion, [BOB]);
    assert.deepEqual(policy.requesters?.setRotationPolicy, [CAROL]);
    assert.deepEqual(policy.requesters?.restoreAccess, [ALICE]);
    assert.deepEqual(policy.requesters?.fleetRotate, [ALICE]);
    assert.match(
      problemsOf({ ...valid, CMK_APPROVERS_RESTORE_ACCESS: CAROL, CMK_QUORUM_RESTORE_ACCESS: '2' }),
      /CMK_QUORUM_RESTORE_ACCESS: restoreAccess needs 2 approvals but only 1 approver\(s\) are listed/,
    );
  });

  test('when no requesters are configured, then nobody may ask for anything', () => {
    const policy = loadConfig(valid, ['policy']).policy;
    for (const list of Object.values(policy.requesters ?? {})) assert.deepEqual(list, []);
  });

  test('when policy keys break their rules, then each problem names its key', () => {
    const message = problemsOf({
      ...valid,
      CMK_ROLES_REVOKE: `Key Vault=${ALICE};Storage`,
      CMK_ROLES_DISABLE: `A=${ALICE};B=${BOB};C=not-a-guid`,
      CMK_QUORUM_DISABLE: '2',
      CMK_ALWAYS_APPROVE: 'configure,purge',
      CMK_REQUESTERS_REVOKE: 'everyone',
      CMK_APPROVAL_TENANT_ID: 'contoso',
    });
    assert.match(message, /CMK_ROLES_REVOKE: "Storage" should read Role name=object id/);
    assert.match(message, /CMK_ROLES_DISABLE \(C\): must be a GUID/);
    assert.match(message, /CMK_QUORUM_DISABLE: each of the 3 roles in CMK_ROLES_DISABLE must approve/);
    assert.match(message, /CMK_ALWAYS_APPROVE: "purge" is not an operation/);
    assert.match(message, /CMK_REQUESTERS_REVOKE: must be a GUID.*or \* for every member/);
    assert.match(message, /CMK_APPROVAL_TENANT_ID: must be a GUID/);
  });

  test('when no tenant is configured, then the policy cannot load', () => {
    const message = problemsOf({ CMK_APPROVERS: ALICE });
    assert.match(message, /CMK_APPROVAL_TENANT_ID: required \(or AZURE_TENANT_ID\)/);
  });

  test('when a test worker is configured through its environment, then it reads back the same policy', () => {
    const policy = testPolicy({
      quorum: { revoke: 2 },
      alwaysApprove: ['configure'],
      roles: { revoke: [{ name: 'Keys', approvers: [ALICE] }] },
    });
    const config = loadConfig(workerTrustEnv(policy), ['policy', 'verifying']);
    assert.deepEqual(config.verifying.botKeys, [TEST_BOT_KEY]);
    assert.deepEqual(config.policy.roles, policy.roles);
    assert.deepEqual(config.policy.alwaysApprove, policy.alwaysApprove);
    assert.equal(config.policy.quorum.revoke, 2);
    assert.deepEqual(config.policy.approvers.configure, policy.approvers.configure);
    assert.deepEqual(config.policy.requesters, policy.requesters);
    assert.equal(config.policy.tenantId, policy.tenantId);
  });

  test('when the bot signing key and the worker public keys are configured, then both name the key by its RFC 7638 thumbprint', async () => {
    const pair = generateKeyPairSync('ed25519');
    const dir = mkdtempSync(path.join(tmpdir(), 'cmk-key-'));
    const file = path.join(dir, 'bot-signing-key.pem');
    writeFileSync(file, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const config = loadConfig(
      { ...valid, CMK_BOT_SIGNING_KEY_FILE: file, CMK_BOT_PUBLIC_KEYS: `${jwk.x}, ${TEST_BOT_KEY.x}` },
      ['signing', 'verifying'],
    );
    const thumbprint = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x! });
    assert.equal(config.signing.kid, thumbprint);
    assert.equal(keyIdOf(jwk.x!), thumbprint);
    assert.deepEqual(
      config.verifying.botKeys.map((k) => k.kid),
      [thumbprint, TEST_BOT_KEY.kid],
    );
  });

  test('when signing or public keys are missing or wrong, then each problem names its key and says what to do', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cmk-key-'));
    const rsa = path.join(dir, 'rsa.pem');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
    );
    const only = (env: Record<string, string>, part: 'signing' | 'verifying'): string => {
      try {
        loadConfig(env, [part]);
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.message;
      }
      return assert.fail('expected a ConfigError');
    };
    assert.match(only({}, 'signing'), /CMK_BOT_SIGNING_KEY_FILE: required/);
    assert.match(
      only({ CMK_BOT_SIGNING_KEY_FILE: path.join(dir, 'none.pem') }, 'signing'),
      /cannot read a private key.*openssl genpkey -algorithm ed25519/,
    );
    assert.match(only({ CMK_BOT_SIGNING_KEY_FILE: rsa }, 'signing'), /must be an Ed25519 key, not rsa/);
    assert.match(only({}, 'verifying'), /CMK_BOT_PUBLIC_KEYS: required/);
    assert.match(only({ CMK_BOT_PUBLIC_KEYS: 'abc' }, 'verifying'), /raw Ed25519 public key in base64url/);
    const x = TEST_BOT_KEY.x;
    assert.match(only({ CMK_BOT_PUBLIC_KEYS: `${x},${x},${x}` }, 'verifying'), /at most two keys/);
  });

  test("when trusted service URLs are configured, then Teams' hosts are the default and plain http is only for loopback", () => {
    assert.deepEqual(loadConfig(valid, ['bot']).bot.trustedServiceUrls, [...TEAMS_SERVICE_URLS]);
    const local = loadConfig({ ...valid, CMK_TRUSTED_SERVICE_URLS: 'http://localhost:56150/_connector' }, [
      'bot',
    ]);
    assert.deepEqual(local.bot.trustedServiceUrls, ['http://localhost:56150/_connector']);
    assert.match(
      problemsOf({ ...valid, CMK_TRUSTED_SERVICE_URLS: 'http://attacker.example/' }),
      /CMK_TRUSTED_SERVICE_URLS: each entry must be https/,
    );
  });

  test('when an approvals conversation is configured, then the worker gets a reference behind a trusted connector, and a missing or untrusted connector is refused by name', () => {
    const approvals = loadConfig(
      {
        ...valid,
        CMK_APPROVALS_CONVERSATION_ID: '19:custodians@thread.tacv2',
        CMK_APPROVALS_SERVICE_URL: 'https://smba.trafficmanager.net/emea/',
        CMK_APPROVALS_CONVERSATION_NAME: 'Key Custodians',
      },
      ['bot'],
    ).bot.approvals;
    assert.equal(approvals?.name, 'Key Custodians');
    assert.deepEqual(approvals?.conversation.conversation, {
      id: '19:custodians@thread.tacv2',
      conversationType: 'channel',
      isGroup: true,
      tenantId: TENANT.toLowerCase(),
    });
    assert.equal(approvals?.conversation.serviceUrl, 'https://smba.trafficmanager.net/emea/');
    assert.equal(loadConfig(valid, ['bot']).bot.approvals, undefined, 'none unless configured');
    assert.match(
      problemsOf({ ...valid, CMK_APPROVALS_CONVERSATION_ID: '19:custodians@thread.v2' }),
      /CMK_APPROVALS_SERVICE_URL: required with CMK_APPROVALS_CONVERSATION_ID/,
    );
    assert.match(
      problemsOf({
        ...valid,
        CMK_APPROVALS_CONVERSATION_ID: '19:custodians@thread.v2',
        CMK_APPROVALS_SERVICE_URL: 'https://attacker.example/',
      }),
      /CMK_APPROVALS_SERVICE_URL: must lie under one of CMK_TRUSTED_SERVICE_URLS/,
    );
  });

  test('when the bot has no app id and is asked to listen beyond loopback, then configuration refuses instead of rebinding', () => {
    assert.match(
      problemsOf({ ...valid, CMK_BOT_HOST: '0.0.0.0' }),
      /CMK_BOT_HOST: without MicrosoftAppId the bot is unauthenticated and listens on loopback only/,
    );
  });
});
