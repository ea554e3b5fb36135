import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  ENCODING_ENCRYPTED,
  METADATA_KEY_ID,
  PayloadKeyUnknown,
} from '../../src/codec/aes-gcm-codec';
import { createPayloadKey, loadCodecConfig, resolvePayloadKeys } from '../../src/codec/keys';
import { CURRENT_RULES } from '../../src/shared/rules';
import { startCodecServer, type CodecServer } from '../../src/codec/server';
import { TEST_PAYLOAD_KEYS } from '../helpers/codec';
import { clientsFor } from '../local-azure/clients';
import { createCmkVault, startForTest } from '../local-azure/fixtures';
import { beforeAll } from '../kit/suite';

const decoder = new TextDecoder();
const plan = { requester: 'Rita Requester', steps: ['Create key vault kv-secret-plan'] };
const sealWith = (keys: typeof TEST_PAYLOAD_KEYS) => new AesGcmPayloadCodec(keys);

describe('the payload codec (AES-256-GCM)', () => {
  test('when a payload is sealed, then its bytes hold no clear text and its metadata names the key', async () => {
    const codec = sealWith(TEST_PAYLOAD_KEYS);
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(plan)]);
    assert.equal(decoder.decode(sealed!.metadata!.encoding), ENCODING_ENCRYPTED);
    assert.equal(decoder.decode(sealed!.metadata![METADATA_KEY_ID]), 'test-2');
    assert.ok(!Buffer.from(sealed!.data!).toString('latin1').includes('Rita'));
    const [opened] = await codec.decode([sealed!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened!), plan);
  });

  test('when the key rotates, then payloads sealed with the retired key still open and new ones use the new key', async () => {
    const retired = sealWith([TEST_PAYLOAD_KEYS[1]!]);
    const [old] = await retired.encode([defaultPayloadConverter.toPayload(plan)]);
    const rotated = sealWith(TEST_PAYLOAD_KEYS);
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!), plan);
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(plan)]);
    assert.equal(decoder.decode(fresh!.metadata![METADATA_KEY_ID]), 'test-2');
  });

  test('when a payload names a key that is not listed, or was tampered with, then opening it fails and says why', async () => {
    const [sealed] = await sealWith(TEST_PAYLOAD_KEYS).encode([defaultPayloadConverter.toPayload(plan)]);
    await assert.rejects(sealWith([TEST_PAYLOAD_KEYS[1]!]).decode([sealed!]), PayloadKeyUnknown);
    // One byte flipped (a byte overwritten with a fixed value would leave it unchanged 1 time in 256).
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = flipped[20]! ^ 0xff;
    const tampered: Payload = { ...sealed!, data: flipped };
    await assert.rejects(sealWith(TEST_PAYLOAD_KEYS).decode([tampered]), /unable to authenticate|auth/i);
  });

  test("when a run's rules name (its memo) is encoded, then it stays in clear; any other value, a similar string included, is sealed", async () => {
    const codec = sealWith(TEST_PAYLOAD_KEYS);
    const rules = defaultPayloadConverter.toPayload(CURRENT_RULES);
    assert.deepEqual(await codec.encode([rules]), [rules]);
    for (const other of [
      'rules-1999-01-01',
      `${CURRENT_RULES} `,
      { cmkRules: CURRENT_RULES },
      'Rita Requester',
    ]) {
      const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(other)]);
      assert.equal(decoder.decode(sealed!.metadata!.encoding), ENCODING_ENCRYPTED, JSON.stringify(other));
    }
    const binary: Payload = {
      metadata: { encoding: new TextEncoder().encode('binary/plain') },
      data: new TextEncoder().encode(JSON.stringify(CURRENT_RULES)),
    };
    const [sealedBinary] = await codec.encode([binary]);
    assert.equal(decoder.decode(sealedBinary!.metadata!.encoding), ENCODING_ENCRYPTED);
  });

  test('when a plain payload (from before encryption) is read, then it passes through unchanged', async () => {
    const plain = defaultPayloadConverter.toPayload({ old: true });
    assert.deepEqual(await sealWith(TEST_PAYLOAD_KEYS).decode([plain]), [plain]);
  });

  test('when the key configuration is wrong, then the error names CMK_PAYLOAD_KEYS and the rule', () => {
    assert.throws(() => loadCodecConfig({}), /CMK_PAYLOAD_KEYS: required/);
    assert.throws(() => loadCodecConfig({ CMK_PAYLOAD_KEYS: 'k1:c2hvcnQ=' }), /must be 32 bytes/);
    assert.throws(() => loadCodecConfig({ CMK_PAYLOAD_KEYS: 'no-colon' }), /<key id>:<base64 key>/);
    assert.equal(loadCodecConfig({ CMK_PAYLOAD_ENCRYPTION: 'off' }).encryption, 'off');
  });
});

describe('payload keys wrapped by a Key Vault key', () => {
  const local = beforeAll(() => startForTest());

  test('when keys are wrapped with RSA-OAEP-256 by a vault key, then the worker unwraps the same data key at start-up through the Key Vault SDK', async () => {
    const vault = `kv-codec-${randomUUID().slice(0, 6)}`;
    const { key } = await createCmkVault(local, vault, 'payload-wrap');
    const clients = clientsFor(local);
    const { entry, key: made } = await createPayloadKey('2026-11', clients.crypto(key.id!));
    assert.ok(!entry.includes(made.key.toString('base64')), 'the entry holds the wrapped key, not the key');
    const config = loadCodecConfig({ CMK_PAYLOAD_KEYS: entry, CMK_PAYLOAD_KEY_WRAPPING_KEY: key.id });
    const [unwrapped] = await resolvePayloadKeys(config, () => ({
      credential: clients.credential,
      options: { agent: local.agent },
    }));
    assert.deepEqual(unwrapped, made);
    const unwraps = local.requestLog
      .entries()
      .filter((e) => e.operation === 'keys.unwrapKey' && e.status === 200);
    assert.equal(unwraps.length, 1, 'one unwrap per key at start-up');
  });
});

describe('the codec server the Temporal UI and CLI decode through', () => {
  const token = randomBytes(32).toString('base64url');
  const origin = 'http://localhost:8233';
  let server: CodecServer;
  let sealed: Payload;
  before(async () => {
    const codec = sealWith(TEST_PAYLOAD_KEYS);
    server = await startCodecServer({ codec, tokens: [token], corsOrigins: [origin], namespace: 'default' });
    [sealed] = (await codec.encode([defaultPayloadConverter.toPayload(plan)])) as [Payload];
  });
  after(async () => {
    await server?.close();
  });

  const body = () =>
    JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(sealed.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(sealed.data!).toString('base64'),
        },
      ],
    });
  const decode = (url: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body() });

  test('when the UI decodes with the token in its endpoint URL, then it gets the clear payload and CORS for its origin', async () => {
    const response = await decode(`${server.uiEndpoint}/decode`, { origin, 'x-namespace': 'default' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), origin);
    const { payloads } = (await response.json()) as { payloads: { data: string }[] };
    assert.deepEqual(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString('utf8')), plan);
    const preflight = await fetch(`${server.uiEndpoint}/decode`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
  });

  test('when the CLI decodes with a bearer token, then it gets the clear payload', async () => {
    const response = await decode(`${server.url}/decode`, { authorization: `Bearer ${token}` });
    assert.equal(response.status, 200);
  });

  test('when a caller has no token, a wrong one, another origin or another namespace, then nothing is decoded', async () => {
    assert.equal((await decode(`${server.url}/decode`)).status, 401);
    assert.equal((await decode(`${server.url}/decode`, { authorization: `Bearer ${token}x` })).status, 401);
    assert.equal((await decode(`${server.url}/not-the-token/decode`)).status, 401);
    assert.equal(
      (await decode(`${server.uiEndpoint}/decode`, { origin: 'https://evil.example' })).status,
      403,
    );
    assert.equal((await decode(`${server.uiEndpoint}/decode`, { 'x-namespace': 'other' })).status, 403);
  });
});
