import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunResult } from '../../src/shared/runbooks';
import { keyWorkflowId } from '../../src/shared/start';
import { PEOPLE, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { clientsFor } from '../local-azure/clients';
import { localConfigure } from './support';

describe('a rotation policy set on a key by vault and name', () => {
  let s: LocalStack;
  let vault: string;
  let pinned: string;
  before(async () => {
    s = await startLocalStack({ throttling: false });
    vault = s.vaultName('kv-pol');
    const account = s.newAccount('stpol');
    pinned = account.name;
    const handle = await s.start('configure', {
      ...localConfigure(account, vault, 'cmk-key', { requester: PEOPLE.requester, policy: testPolicy() }),
      pinVersion: true,
    });
    assert.equal(((await handle.result()) as RunResult).outcome, 'succeeded');
  });
  after(async () => {
    await s.close();
  });

  test('when a policy is set on a key, then Key Vault holds it, the run locks the key (not an account) and the plan names the pinned accounts that will not follow', async () => {
    const handle = await s.start('setRotationPolicy', {
      key: { vault, name: 'cmk-key' },
      expiresAfter: '90d',
      rotateBeforeExpiry: '30d',
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    assert.equal(handle.workflowId, keyWorkflowId({ vault, name: 'cmk-key' }));
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.match(
      result.message,
      new RegExp(
        `Key ${vault}/cmk-key now has a rotation policy: rotateBeforeExpiry P30D, expiresAfter P90D`,
      ),
    );
    const policy = await clientsFor(s.local).keys(vault).getKeyRotationPolicy('cmk-key');
    assert.equal(policy.expiresIn, 'P90D');
    assert.deepEqual(
      policy.lifetimeActions?.filter((x) => x.action === 'Rotate').map((x) => x.timeBeforeExpiry),
      ['P30D'],
    );
    assert.deepEqual(result.plan?.facts?.after, [
      { title: 'Rotate', value: '30 days before expiry' },
      { title: 'Expires', value: '90 days after creation' },
    ]);
    assert.match(
      result.plan?.warnings.join(' ') ?? '',
      new RegExp(`Pinned accounts do not follow automatic rotations: ${pinned}`),
    );
  });

  test('when the key does not exist, then the run is blocked with that sentence and Key Vault is not written', async () => {
    const writes = s.local.requestLog.writes().length;
    const result = (await (
      await s.start('setRotationPolicy', {
        key: { vault, name: 'no-such-key' },
        expiresAfter: '90d',
        requester: PEOPLE.requester,
        policy: testPolicy(),
      })
    ).result()) as RunResult;
    assert.equal(result.outcome, 'blocked');
    assert.match(result.message, new RegExp(`Key ${vault}/no-such-key does not exist`));
    assert.equal(s.local.requestLog.writes().length, writes);
  });

  test('when the durations break Azure minimums, then the run ends invalid before any call', async () => {
    const result = (await (
      await s.start('setRotationPolicy', {
        key: { vault, name: 'cmk-key' },
        expiresAfter: '10d',
        requester: PEOPLE.requester,
        policy: testPolicy(),
      })
    ).result()) as RunResult;
    assert.equal(result.outcome, 'invalid');
    assert.match(result.message, /expiresAfter: must be at least 28 days/);
  });
});
