/**
 * The blob operations the local Azure serves, as the Blob REST API answers them: containers
 * (create, properties, delete, list), block blobs uploaded whole (Put Blob), read whole or by
 * range (Get Blob), their properties and metadata, and blob listings. `needsKey` marks the
 * operations that fail once the account cannot unwrap its key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { blobError, send, type Ctx, type Env } from '../http';
import type { BlobContainer, BlobRecord, StorageAccount } from '../model';
import { BLOBS } from '../roles';

/** One blob operation: its name, the data action it needs, and whether it reads or writes content. */
export interface BlobOperation {
  name: string;
  /** The data action a caller's role must allow, e.g. `…/containers/blobs/read`. */
  dataAction: string;
  /** True when the account's key must be reachable (customer-managed-keys-overview's list). */
  needsKey(ctx: Ctx): boolean;
  handle(ctx: Ctx, env: Env, account: StorageAccount): void;
  container?: string | undefined;
  blob?: string | undefined;
}

const CONTAINER_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const never = (): boolean => false;
const always = (): boolean => true;

const etag = (): string => `"0x${randomBytes(8).toString('hex').toUpperCase()}"`;
const httpDate = (env: Env): string => env.clock.now().toUTCString();
const xml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Sends a raw body (or none, for HEAD) with the given headers. */
function sendRaw(ctx: Ctx, status: number, body: Buffer | undefined, headers: Record<string, string>): void {
  ctx.status = status;
  ctx.res.writeHead(status, {
    'x-ms-request-id': crypto.randomUUID(),
    ...headers,
    ...(body && ctx.method !== 'HEAD' ? {} : { 'content-length': headers['content-length'] ?? '0' }),
  });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
}

function containerOf(ctx: Ctx, account: StorageAccount, name: string | undefined): BlobContainer | undefined {
  const c = account.containers?.[name ?? ''];
  if (!c) blobError(ctx, 404, 'ContainerNotFound', 'The specified container does not exist.');
  return c;
}

function blobOf(
  ctx: Ctx,
  account: StorageAccount,
  container?: string,
  blob?: string,
): BlobRecord | undefined {
  const c = containerOf(ctx, account, container);
  if (!c) return undefined;
  const b = c.blobs[blob ?? ''];
  if (!b) blobError(ctx, 404, 'BlobNotFound', 'The specified blob does not exist.');
  return b;
}

/** `x-ms-meta-*` request headers as metadata. */
function metadataOf(ctx: Ctx): Record<string, string> {
  return Object.fromEntries(
    Object.entries(ctx.req.headers)
      .filter(([k]) => k.startsWith('x-ms-meta-'))
      .map(([k, v]) => [k.slice('x-ms-meta-'.length), String(v)]),
  );
}

function blobHeaders(b: BlobRecord, size: number): Record<string, string> {
  return {
    'content-length': String(size),
    'content-type': b.contentType,
    'content-md5': createHash('md5').update(Buffer.from(b.content, 'base64')).digest('base64'),
    etag: b.etag,
    'last-modified': b.lastModified,
    'x-ms-creation-time': b.created,
    'x-ms-blob-type': 'BlockBlob',
    'x-ms-server-encrypted': 'true',
    'accept-ranges': 'bytes',
    ...Object.fromEntries(Object.entries(b.metadata).map(([k, v]) => [`x-ms-meta-${k}`, v])),
  };
}

function putBlob(ctx: Ctx, env: Env, account: StorageAccount, op: BlobOperation): void {
  const c = containerOf(ctx, account, op.container);
  if (!c) return;
  if (String(ctx.req.headers['x-ms-blob-type'] ?? '') !== 'BlockBlob')
    return blobError(
      ctx,
      400,
      'InvalidHeaderValue',
      'The value for one of the HTTP headers is not in the correct format.',
    );
  if (ctx.req.headers['if-none-match'] === '*' && c.blobs[op.blob ?? ''])
    return blobError(ctx, 409, 'BlobAlreadyExists', 'The specified blob already exists.');
  const now = httpDate(env);
  const b: BlobRecord = {
    content: ctx.body.toString('base64'),
    contentType: String(ctx.req.headers['x-ms-blob-content-type'] ?? 'application/octet-stream'),
    metadata: metadataOf(ctx),
    etag: etag(),
    lastModified: now,
    created: c.blobs[op.blob ?? '']?.created ?? now,
  };
  c.blobs[op.blob ?? ''] = b;
  env.state.changed();
  sendRaw(ctx, 201, undefined, {
    etag: b.etag,
    'last-modified': b.lastModified,
    'content-md5': createHash('md5').update(ctx.body).digest('base64'),
    'x-ms-request-server-encrypted': 'true',
  });
}

/** Get Blob, whole or by `x-ms-range`/`Range` (`bytes=start-end`, 206 Partial Content). */
function getBlob(ctx: Ctx, _env: Env, account: StorageAccount, op: BlobOperation): void {
  const b = blobOf(ctx, account, op.container, op.blob);
  if (!b) return;
  const content = Buffer.from(b.content, 'base64');
  const range = /^bytes=(\d+)-(\d*)$/.exec(
    String(ctx.req.headers['x-ms-range'] ?? ctx.req.headers.range ?? ''),
  );
  if (!range) return sendRaw(ctx, 200, content, blobHeaders(b, content.length));
  const start = Number(range[1]);
  const end = Math.min(range[2] ? Number(range[2]) : content.length - 1, content.length - 1);
  if (start >= content.length) {
    ctx.res.setHeader('content-range', `bytes */${content.length}`);
    return blobError(
      ctx,
      416,
      'InvalidRange',
      'The range specified is invalid for the current size of the resource.',
    );
  }
  const part = content.subarray(start, end + 1);
  sendRaw(ctx, 206, part, {
    ...blobHeaders(b, part.length),
    'content-range': `bytes ${start}-${end}/${content.length}`,
  });
}

function blobProperties(ctx: Ctx, _env: Env, account: StorageAccount, op: BlobOperation): void {
  const b = blobOf(ctx, account, op.container, op.blob);
  if (b) sendRaw(ctx, 200, undefined, blobHeaders(b, Buffer.from(b.content, 'base64').length));
}

function blobMetadata(ctx: Ctx, env: Env, account: StorageAccount, op: BlobOperation): void {
  const b = blobOf(ctx, account, op.container, op.blob);
  if (!b) return;
  if (ctx.method === 'PUT') {
    b.metadata = metadataOf(ctx);
    b.etag = etag();
    b.lastModified = httpDate(env);
    env.state.changed();
  }
  sendRaw(ctx, 200, undefined, {
    etag: b.etag,
    'last-modified': b.lastModified,
    ...(ctx.method === 'PUT'
      ? { 'x-ms-request-server-encrypted': 'true' }
      : Object.fromEntries(Object.entries(b.metadata).map(([k, v]) => [`x-ms-meta-${k}`, v]))),
  });
}

function deleteBlob(ctx: Ctx, env: Env, account: StorageAccount, op: BlobOperation): void {
  const c = containerOf(ctx, account, op.container);
  if (!c || !blobOf(ctx, account, op.container, op.blob)) return;
  delete c.blobs[op.blob ?? ''];
  env.state.changed();
  sendRaw(ctx, 202, undefined, {});
}

function createContainer(ctx: Ctx, env: Env, account: StorageAccount, op: BlobOperation): void {
  const name = op.container ?? '';
  if (!CONTAINER_NAME.test(name))
    return blobError(
      ctx,
      400,
      'InvalidResourceName',
      'The specified resource name contains invalid characters.',
    );
  if (account.containers?.[name])
    return blobError(ctx, 409, 'ContainerAlreadyExists', 'The specified container already exists.');
  const c: BlobContainer = { name, created: httpDate(env), etag: etag(), blobs: {} };
  account.containers = { ...account.containers, [name]: c };
  env.state.changed();
  sendRaw(ctx, 201, undefined, { etag: c.etag, 'last-modified': c.created });
}

function containerProperties(ctx: Ctx, _env: Env, account: StorageAccount, op: BlobOperation): void {
  const c = containerOf(ctx, account, op.container);
  if (c)
    sendRaw(ctx, 200, undefined, {
      etag: c.etag,
      'last-modified': c.created,
      'x-ms-lease-state': 'available',
      'x-ms-lease-status': 'unlocked',
      'x-ms-has-immutability-policy': 'false',
      'x-ms-has-legal-hold': 'false',
    });
}

function deleteContainer(ctx: Ctx, env: Env, account: StorageAccount, op: BlobOperation): void {
  if (!containerOf(ctx, account, op.container)) return;
  delete account.containers?.[op.container ?? ''];
  env.state.changed();
  sendRaw(ctx, 202, undefined, {});
}

function listContainers(ctx: Ctx, _env: Env, account: StorageAccount): void {
  const items = Object.values(account.containers ?? {})
    .filter((c) => c.name.startsWith(ctx.query.prefix ?? ''))
    .map(
      (c) =>
        `<Container><Name>${xml(c.name)}</Name><Properties><Last-Modified>${c.created}</Last-Modified><Etag>${xml(c.etag)}</Etag><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState></Properties></Container>`,
    )
    .join('');
  send(
    ctx,
    200,
    `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://${account.name}.blob.core.windows.net/"><Containers>${items}</Containers><NextMarker /></EnumerationResults>`,
  );
}

function listBlobs(ctx: Ctx, _env: Env, account: StorageAccount, op: BlobOperation): void {
  const c = containerOf(ctx, account, op.container);
  if (!c) return;
  const withMetadata = includesMetadata(ctx);
  const items = Object.entries(c.blobs)
    .filter(([name]) => name.startsWith(ctx.query.prefix ?? ''))
    .map(([name, b]) => {
      const metadata = withMetadata
        ? `<Metadata>${Object.entries(b.metadata)
            .map(([k, v]) => `<${k}>${xml(v)}</${k}>`)
            .join('')}</Metadata>`
        : '';
      return `<Blob><Name>${xml(name)}</Name><Properties><Creation-Time>${b.created}</Creation-Time><Last-Modified>${b.lastModified}</Last-Modified><Etag>${xml(b.etag)}</Etag><Content-Length>${Buffer.from(b.content, 'base64').length}</Content-Length><Content-Type>${xml(b.contentType)}</Content-Type><BlobType>BlockBlob</BlobType><ServerEncrypted>true</ServerEncrypted></Properties>${metadata}</Blob>`;
    })
    .join('');
  send(
    ctx,
    200,
    `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://${account.name}.blob.core.windows.net/" ContainerName="${xml(c.name)}"><Blobs>${items}</Blobs><NextMarker /></EnumerationResults>`,
  );
}

function includesMetadata(ctx: Ctx): boolean {
  return (ctx.query.include ?? '').split(',').includes('metadata');
}

function accountInformation(ctx: Ctx, _env: Env, account: StorageAccount): void {
  sendRaw(ctx, 200, undefined, {
    'x-ms-sku-name': account.sku,
    'x-ms-account-kind': account.kind,
    'x-ms-is-hns-enabled': 'false',
  });
}

type Handler = (ctx: Ctx, env: Env, account: StorageAccount, op: BlobOperation) => void;
const op = (
  name: string,
  dataAction: string,
  needsKey: (ctx: Ctx) => boolean,
  handle: Handler,
): BlobOperation => ({
  name,
  dataAction,
  needsKey,
  handle(ctx, env, account) {
    handle(ctx, env, account, this);
  },
});

const READ = `${BLOBS}/read`;
const WRITE = `${BLOBS}/write`;
const DELETE = `${BLOBS}/delete`;

/**
 * Every served operation and the data action it needs; `container` and `blob` are filled in per
 * request. Blob rows follow "Permissions for calling data operations" (rest/api/storageservices,
 * authorize-with-azure-active-directory): Get Blob, its properties and metadata and List Blobs
 * need `blobs/read`, Put Blob and Set Blob Metadata `blobs/write`, Delete Blob `blobs/delete`.
 * For the account and container rows that table names control-plane actions (`containers/read`,
 * `/write`, `/delete`), which an ARM Owner's `*` would match; yet Azure documents that only
 * roles defined for data access authorize a token on blob data (authorize-access-azure-active-
 * directory), so each needs the blob data action of the same verb.
 */
export const BLOB_OPERATIONS: readonly BlobOperation[] = [
  op('getAccountInformation', READ, never, accountInformation),
  op('listContainers', READ, never, listContainers),
  op('createContainer', WRITE, never, createContainer),
  op('getContainerProperties', READ, never, containerProperties),
  op('deleteContainer', DELETE, never, deleteContainer),
  op('listBlobs', READ, includesMetadata, listBlobs),
  op('putBlob', WRITE, always, putBlob),
  op('getBlob', READ, always, getBlob),
  op('getBlobProperties', READ, always, blobProperties),
  op('getBlobMetadata', READ, always, blobMetadata),
  op('setBlobMetadata', WRITE, always, blobMetadata),
  op('deleteBlob', DELETE, never, deleteBlob),
];
