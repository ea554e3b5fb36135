/**
 * The plan checks that the data-plane probe can run before anything changes: the worker's
 * identity may read blobs on the account (403 AuthorizationPermissionMismatch otherwise, the
 * Blob service's answer to a caller without a Storage Blob Data role: "Authorize access to blobs
 * using Microsoft Entra ID") and the account's firewall lets the worker in (403
 * AuthorizationFailure, storage-network-security).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TokenCredential } from '@azure/core-auth';
import { BlobServiceClient } from '@azure/storage-blob';
import type { AzureClients } from '../../src/activities/azure-clients';
import type { ActivityDeps } from '../../src/activities/deps';
import { checkProbeReach } from '../../src/activities/probe-reach';
import { accountId, type AccountRef } from '../../src/shared/accounts';
import type { Plan } from '../../src/shared/plan';
import { planConfigure, RG_KEYS, RG_STORAGE, RUNBOOK_OID, startHarness } from './harness';
import { kitAzureOf } from '../kit/azure';
import { beforeAll } from '../kit/suite';

/** Storage Blob Data Contributor and Reader (built-in role ids). */
const BLOB_CONTRIBUTOR = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
const BLOB_READER = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1';

describe('the plan checks that the blob probe can run', () => {
  const h = beforeAll(() => startHarness());

  const configurePlan = (account: AccountRef): Promise<Plan> =>
    planConfigure(h, account, {
      vault: { name: h.vaultName(), resourceGroup: RG_KEYS },
      key: { name: 'cmk-key', type: 'RSA', size: 2048 },
    });
  const codes = (plan: Plan) => plan.blockers.map((b) => b.code);
  /** Lets a role change reach the data plane (the local Azure's propagation delay). */
  const propagate = () => h.local.clock.advance(60_000);

  test("when the account's firewall refuses the worker (403 AuthorizationFailure, storage-network-security), then configure is blocked with the firewall fix and nothing is written", async () => {
    const account = h.newAccount('stfw');
    // arm-storage 20 sends `properties` only with a lower-camel property set; minimumTlsVersion carries it.
    await h.azure.storage(account.subscriptionId).storageAccounts.update(RG_STORAGE, account.name, {
      networkRuleSet: { defaultAction: 'Deny', ipRules: [{ iPAddressOrRange: '198.51.100.0/24' }] },
      minimumTlsVersion: 'TLS1_2',
    });
    h.local.requestLog.clear();
    const plan = await configurePlan(account);
    const b = plan.blockers.find((x) => x.code === 'StorageFirewall');
    assert.ok(b, JSON.stringify(plan.blockers));
    assert.match(
      b.message,
      /firewall does not let the runbook reach its blob endpoint \(403 AuthorizationFailure\)/,
    );
    assert.match(
      b.fix,
      new RegExp(`az storage account network-rule add --account-name ${account.name} --ip-address`),
    );
    assert.equal(h.local.requestLog.writes().length, 0);
  });

  test('when the worker holds no Storage Blob Data role (403 AuthorizationPermissionMismatch), then configure and rotate are blocked with the role to assign, a revoke plan says it cannot be confirmed, and nothing is written; Storage Blob Data Reader on the account is enough', async () => {
    const onCmk = await h.cmkAccount({ keyName: 'reach', pinVersion: true });
    const fresh = h.newAccount('strole');
    const seeded = Object.entries(h.local.state.data.roleAssignments).find(
      ([, a]) => a.principalId === RUNBOOK_OID && a.roleDefinitionId.endsWith(BLOB_CONTRIBUTOR),
    );
    assert.ok(seeded, 'the seed gives the runbook Storage Blob Data Contributor on the subscription');
    h.local.state.deleteRoleAssignment(seeded[0]);
    propagate();
    h.local.requestLog.clear();

    const configure = await configurePlan(fresh);
    const role = configure.blockers.find((b) => b.code === 'BlobReadNotAllowed');
    assert.ok(role, JSON.stringify(configure.blockers));
    assert.match(
      role.message,
      new RegExp(`identity \\(${RUNBOOK_OID}\\) may not read blobs on ${fresh.name}`),
    );
    assert.match(
      role.fix,
      new RegExp(
        `az role assignment create --assignee ${RUNBOOK_OID} --role "Storage Blob Data Contributor" --scope ${accountId(fresh)}`,
      ),
    );
    const rotate = await h.run((a) =>
      a.inspect({ account: onCmk.account, request: { operation: 'rotate' } }),
    );
    assert.deepEqual(codes(rotate), ['BlobReadNotAllowed']);
    const revoke = await h.run((a) =>
      a.inspect({ account: onCmk.account, request: { operation: 'revoke', disableKey: false } }),
    );
    assert.deepEqual(codes(revoke), []);
    assert.ok(
      revoke.warnings.some((w) =>
        /^The revocation cannot be confirmed: .*AuthorizationPermissionMismatch.* will end pending/.test(w),
      ),
      revoke.warnings.join('\n'),
    );
    assert.equal(h.local.requestLog.writes().length, 0, 'planning writes nothing');

    h.local.state.addRoleAssignment({
      scope: accountId(fresh),
      roleDefinitionId: BLOB_READER,
      principalId: RUNBOOK_OID,
    });
    propagate();
    assert.deepEqual(codes(await configurePlan(fresh)), []);
  });

  /** The check over `azure`'s blob client, inside an activity's context. */
  const reachWith = (azure: Pick<AzureClients, 'blob'>, endpoint: string) =>
    h.run(() =>
      checkProbeReach(
        { azure, runbookPrincipalId: () => Promise.resolve(RUNBOOK_OID) } as unknown as ActivityDeps,
        { subscriptionId: h.local.subscriptionIds[0]!, resourceGroup: RG_STORAGE, name: 'streach' },
        { location: 'eastus', primaryEndpoints: { blob: endpoint } },
      ),
    );

  test("when the worker cannot get a token for the blob endpoint (Entra's token endpoint answers 503 temporarily_unavailable), then the check does not call the endpoint unreachable: it fails, and Temporal retries the activity", async () => {
    const account = h.newAccount('streach');
    const endpoint = `https://${account.name}.blob.core.windows.net/`;
    h.local.faults.set({
      routes: [
        { pathPattern: /\/oauth2\/v2\.0\/token$/, status: 503, code: 'ServiceUnavailable', times: 100 },
      ],
    });
    try {
      // A new credential, so it asks Entra for a token; the SDK then throws identity's
      // AuthenticationRequiredError, which carries no status.
      const failed = await reachWith(kitAzureOf(h.local).clients(), endpoint).then(
        (blocker) => assert.fail(`a verdict on the endpoint: ${JSON.stringify(blocker)}`),
        (error: Error) => error,
      );
      assert.doesNotMatch(failed.message, /cannot reach/);
      assert.match(failed.message, /temporarily_unavailable/);
      // Not a non-retryable failure: Temporal retries the activity.
      assert.notEqual((failed as { nonRetryable?: boolean }).nonRetryable, true);
    } finally {
      h.local.faults.reset();
    }
  });

  test('when nothing answers at the blob endpoint (connection refused), then the check says the endpoint is unreachable, with the network fix', async () => {
    const token: TokenCredential = {
      getToken: () => Promise.resolve({ token: 'opaque', expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    const refused = {
      blob: (url: string) => new BlobServiceClient(url, token, { retryOptions: { maxTries: 1 } }),
    };
    const blocker = await reachWith(refused, 'https://127.0.0.1:1/');
    assert.equal(blocker?.code, 'BlobEndpointUnreachable');
    assert.match(blocker.fix, /Let the worker reach 127\.0\.0\.1:1 on port 443/);
  });
});
