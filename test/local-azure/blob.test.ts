import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSecretCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LocalAzure } from '../../src/local-azure';
import { clientsFor, RG_STORAGE, SUB } from './clients';
import { startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

const READER = {
  objectId: '7a1e0c55-0000-4000-8000-00000000b10b',
  appId: '7a1e0c55-0000-4000-8000-00000000a10b',
  secret: 'blob-reader-local-secret',
};
const ACCOUNT_SCOPE = `/subscriptions/${SUB}/resourceGroups/${RG_STORAGE}/providers/Microsoft.Storage/storageAccounts/starchive`;
const ROLE = (guid: string) =>
  `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const BLOB_DATA_READER = ROLE('2a2b9908-6ea1-4ae2-8e65-a410df84e7d1');
const BLOB_DATA_CONTRIBUTOR = ROLE('ba92f5b4-2d11-453d-a403-e96b0029c9fe');
const OWNER = ROLE('8e3af657-a8ff-443c-a75c-2fe8c4bcb635');

const CUSTOM = {
  objectId: '7a1e0c55-0000-4000-8000-00000000c10b',
  appId: '7a1e0c55-0000-4000-8000-00000000c10a',
  secret: 'blob-custom-local-secret',
};
const BLOBS = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs';

/** The error code of a blob refusal; a HEAD answer carries it only in `details`. */
const codeOf = (e: { code?: string; details?: { errorCode?: string } }): string | undefined =>
  e.code ?? e.details?.errorCode;
const mismatch = (e: { statusCode?: number; code?: string; details?: { errorCode?: string } }) =>
  e.statusCode === 403 && codeOf(e) === 'AuthorizationPermissionMismatch';

/** Adds a service principal (holding no role yet) and returns a blob client of `account` signed in as it. */
function signIn(
  local: LocalAzure,
  principal: { objectId: string; appId: string; secret: string },
  account: string,
): BlobServiceClient {
  local.state.addPrincipal({
    objectId: principal.objectId,
    kind: 'ServicePrincipal',
    displayName: `blob caller ${principal.appId.slice(-4)}`,
    appId: principal.appId,
    clientSecret: principal.secret,
  });
  const credential = new ClientSecretCredential(local.tenantId, principal.appId, principal.secret, {
    agent: local.agent,
  });
  return new BlobServiceClient(`https://${account}.blob.core.windows.net`, credential, {
    httpClient: local.blobHttpClient,
    retryOptions: { maxTries: 1 },
  });
}

describe('the blob data plane', () => {
  const local = beforeAll(() => startForTest());
  const c = lazy(() => clientsFor(local));

  test('when a small blob is put, then its properties, the whole blob and a byte range read back (Blob REST: Put Blob, Get Blob Properties, Get Blob with x-ms-range)', async () => {
    const container = c.blob('stcontoso').getContainerClient('canaries');
    await container.create();
    const canary = container.getBlockBlobClient('canary');
    await canary.upload('0123456789', 10, {
      metadata: { run: 'r1' },
      blobHTTPHeaders: { blobContentType: 'text/plain' },
    });
    const props = await canary.getProperties();
    assert.deepEqual(
      [props.contentLength, props.contentType, props.blobType, props.isServerEncrypted, props.metadata?.run],
      [10, 'text/plain', 'BlockBlob', true, 'r1'],
    );
    const whole = await canary.downloadToBuffer();
    assert.equal(whole.toString(), '0123456789');
    const part = await canary.download(2, 4);
    assert.equal(part._response.status, 206);
    assert.equal(part.contentRange, 'bytes 2-5/10');
    assert.equal(await new Response(part.readableStreamBody as never).text(), '2345');
    await assert.rejects(
      container.getBlockBlobClient('missing').getProperties(),
      (e: { statusCode?: number; details?: { errorCode?: string } }) =>
        e.statusCode === 404 && codeOf(e) === 'BlobNotFound',
    );
    await assert.rejects(container.create(), (e: { code?: string }) => e.code === 'ContainerAlreadyExists');
  });

  test('when the caller has no Storage Blob Data role, then every blob operation answers 403 AuthorizationPermissionMismatch, even for an ARM Owner (authorize-access-azure-active-directory)', async () => {
    const reader = signIn(local, READER, 'starchive');
    local.state.addRoleAssignment({
      scope: ACCOUNT_SCOPE,
      roleDefinitionId: OWNER,
      principalId: READER.objectId,
      effectiveImmediately: true,
    });
    await assert.rejects(reader.getAccountInfo(), mismatch);
    await assert.rejects(reader.listContainers().byPage().next(), mismatch);

    await c.storage.storageAccounts.getProperties(RG_STORAGE, 'starchive');
    await c.blob('starchive').getContainerClient('data').create();
    await c.blob('starchive').getContainerClient('data').getBlockBlobClient('b').upload('x', 1);
    await c.authorization.roleAssignments.create(ACCOUNT_SCOPE, '0d1e2f30-4a5b-4c6d-8e7f-0000000000b1', {
      roleDefinitionId: BLOB_DATA_READER,
      principalId: READER.objectId,
      principalType: 'ServicePrincipal',
    });
    const blob = reader.getContainerClient('data').getBlockBlobClient('b');
    await assert.rejects(blob.getProperties(), mismatch, 'a new role assignment has not propagated yet');
    local.clock.advance(60_000);
    assert.equal((await blob.getProperties()).contentLength, 1);
    await assert.rejects(blob.upload('y', 1), mismatch, 'Storage Blob Data Reader cannot write');

    await c.authorization.roleAssignments.create(ACCOUNT_SCOPE, '0d1e2f30-4a5b-4c6d-8e7f-0000000000b2', {
      roleDefinitionId: BLOB_DATA_CONTRIBUTOR,
      principalId: READER.objectId,
      principalType: 'ServicePrincipal',
    });
    local.clock.advance(60_000);
    await blob.upload('yz', 2);
    assert.equal((await blob.getProperties()).contentLength, 2);
  });

  test('when a custom role allows blob data by a wildcard but excludes deletes, assigned at the tenant root group and later deleted, then Blob follows its data actions and the deletion takes effect only after propagation (role-definitions "NotDataActions", management-groups overview, rbac-guide)', async () => {
    const custom = signIn(local, CUSTOM, 'stcontoso');
    const roleGuid = 'c0570000-0000-4000-8000-0000000000b1';
    await c.authorization.roleDefinitions.createOrUpdate(`/subscriptions/${SUB}`, roleGuid, {
      roleName: 'blob writer without delete',
      permissions: [{ actions: [], dataActions: [`${BLOBS}/*`], notDataActions: [`${BLOBS}/delete`] }],
      assignableScopes: [`/subscriptions/${SUB}`],
    });
    const rootGroup = `/providers/Microsoft.Management/managementGroups/${local.tenantId}`;
    const assignmentName = '0d1e2f30-4a5b-4c6d-8e7f-0000000000b3';
    await c.authorization.roleAssignments.create(rootGroup, assignmentName, {
      roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      principalId: CUSTOM.objectId,
      principalType: 'ServicePrincipal',
    });
    await c.blob('stcontoso').getContainerClient('custom').create();
    await c.blob('stcontoso').getContainerClient('custom').getBlockBlobClient('b').upload('x', 1);
    const blob = custom.getContainerClient('custom').getBlockBlobClient('b');
    local.clock.advance(60_000);

    await blob.upload('yz', 2);
    assert.equal((await blob.getProperties()).contentLength, 2);
    await assert.rejects(blob.delete(), mismatch, 'deletes are excluded by NotDataActions');

    await c.authorization.roleAssignments.delete(rootGroup, assignmentName);
    assert.equal((await blob.getProperties()).contentLength, 2, 'a deletion has not propagated yet');
    local.clock.advance(60_000);
    await assert.rejects(blob.getProperties(), mismatch);
  });
});
