import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import type { OperationRequest } from '../../src/shared/activities';
import {
  PLAN_WORKFLOW,
  planTargetOf,
  planWorkflowId,
  type PlanPreview,
  type PlannableOperation,
} from '../../src/shared/preview';
import type { RunResult } from '../../src/shared/runbooks';
import { LOCAL, PEOPLE, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { TEST_TENANT, testSigner } from '../helpers/trust';
import { clientsFor } from '../local-azure/clients';
import { decide, waitForApproval } from './support';

describe('plan previews and the blast radius of revoke, disable-key and change-key', () => {
  let s: LocalStack;
  let identity: string;
  let vault: string;
  let a: AccountRef;
  let b: AccountRef;
  let c: AccountRef;
  before(async () => {
    s = await startLocalStack({ throttling: false });
    const name = `id-shared-${randomUUID().slice(0, 6)}`;
    s.local.state.addUserAssignedIdentity({
      subscriptionId: LOCAL.subscriptionId,
      resourceGroup: LOCAL.keysGroup,
      name,
    });
    identity = `/subscriptions/${LOCAL.subscriptionId}/resourceGroups/${LOCAL.keysGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
    vault = s.vaultName('kv-blast');
    // a and b share identity and key k1; c shares the identity on key k2 of the same vault.
    a = await configured('k1');
    b = await configured('k1');
    c = await configured('k2');
    await clientsFor(s.local).storage.encryptionScopes.put(LOCAL.storageGroup, a.name, 'scope-k1', {
      source: 'Microsoft.KeyVault',
      keyVaultProperties: { keyUri: `https://${vault}.vault.azure.net/keys/k1` },
    });
  });
  after(async () => {
    await s.close();
  });

  async function configured(key: string): Promise<AccountRef> {
    const account = s.newAccount('stblast');
    const handle = await s.start('configure', {
      account,
      vault: { name: vault, resourceGroup: LOCAL.keysGroup },
      key: { name: key, type: 'RSA', size: 2048 },
      identity: { type: 'UserAssigned', resourceId: identity },
      pinVersion: false,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    return account;
  }

  /** Asks for a preview as the bot does after `plan …`: a start signed for a preview of the account. */
  async function preview(
    operation: PlannableOperation,
    account: AccountRef,
    request: OperationRequest,
  ): Promise<PlanPreview> {
    const startProof = await testSigner.signStart({
      operation,
      target: planTargetOf(account),
      requester: PEOPLE.requester,
      tenantId: TEST_TENANT,
    });
    return (await s.client.workflow.execute(PLAN_WORKFLOW, {
      taskQueue: s.taskQueue,
      workflowId: planWorkflowId(account, randomUUID()),
      args: [{ operation, account, request, requester: PEOPLE.requester, startProof }],
    })) as PlanPreview;
  }

  const names = (p: PlanPreview | RunResult | undefined): string[] =>
    (p?.plan?.blastRadius?.affected ?? []).map((x) => x.name).sort();

  test('when a revoke is previewed, then the plan lists the account and scope that lose access through the shared grant, takes no lock and writes nothing', async () => {
    const writes = s.local.requestLog.writes().length;
    const result = await preview('revoke', a, { operation: 'revoke', disableKey: false });
    assert.equal(result.plan?.operation, 'revoke');
    assert.deepEqual(names(result), [b.name, `${a.name}/scope-k1`].sort());
    assert.match(
      result.plan.blastRadius!.affected.find((x) => x.name === b.name)!.why,
      /loses access: reaches .*\/k1 only through identity id-shared/,
    );
    assert.equal(result.approval?.required, true);
    assert.equal(result.approval?.quorum, 1);
    assert.equal(s.local.requestLog.writes().length, writes, 'zero Azure writes');
    const latest = await s.client.workflow.getHandle(workflowIdFor(a)).describe();
    assert.equal(latest.type, 'configureCmk', 'the preview ran under its own id: the account is not locked');
    assert.equal(latest.status.name, 'COMPLETED');
  });

  test('when a revoke that disables the key is run, then its card shows the accounts on that version and the approval covers exactly them', async () => {
    const handle = await s.start('revoke', {
      account: a,
      disableKey: true,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    const asked = await waitForApproval(handle);
    assert.ok(names({ plan: asked.plan }).includes(b.name));
    assert.match(
      asked.plan!.blastRadius!.affected.map((x) => x.why).join('\n'),
      /which is disabled|only through/,
    );
    await decide(handle, PEOPLE.alice, 'reject');
    assert.equal(((await handle.result()) as RunResult).outcome, 'rejected');
  });

  test('when a key change is previewed, then the others on the old key and the identity that gains the new key are listed', async () => {
    const result = await preview('changeKey', c, {
      operation: 'changeKey',
      key: { name: 'k3', type: 'RSA', size: 2048 },
    });
    const why = new Map(result.plan?.blastRadius?.affected.map((x) => [x.name, x.why]));
    assert.match(why.get(a.name) ?? '', /gains access to .*\/k3: shares identity id-shared/);
    assert.match(why.get(b.name) ?? '', /gains access/);
    assert.equal(result.plan?.after.keyName, 'k3');
  });

  test('when a preview is started without the signature of the bot, then it is refused before any call to Azure', async () => {
    const result = await s.client.workflow.execute(PLAN_WORKFLOW, {
      taskQueue: s.taskQueue,
      workflowId: planWorkflowId(a, uniqueId('forged')),
      args: [
        {
          operation: 'revoke',
          account: a,
          request: { operation: 'revoke', disableKey: false },
          requester: PEOPLE.mallory,
        },
      ],
    });
    assert.equal((result as PlanPreview).refusal?.type, 'StartProofInvalid');
    assert.equal((result as PlanPreview).plan, undefined);
  });
});
