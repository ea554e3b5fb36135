/**
 * The payload keys of the test suite: every client and worker of the suite seals payloads like
 * production does, with two keys (the first seals, both open) so rotation is always exercised;
 * raw history is read with {@link openPayload}, and the `temporal` CLI through a codec server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmPayloadCodec, type PayloadKey } from '../../src/codec/aes-gcm-codec';
import { createDataConverter } from '../../src/codec/data-converter';
import { startCodecServer, type CodecServer } from '../../src/codec/server';

const keyOf = (id: string): PayloadKey => ({
  id,
  key: createHash('sha256').update(`cmk-runbook test payload key ${id}`).digest(),
});

/** The suite's keys: `test-2` seals, `test-1` (retired) still opens. */
export const TEST_PAYLOAD_KEYS: PayloadKey[] = [keyOf('test-2'), keyOf('test-1')];

/** The same keys as a process reads them from its environment. */
export const TEST_PAYLOAD_ENV = {
  CMK_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
};

/** The data converter of every test client and worker. */
export const testDataConverter = createDataConverter(TEST_PAYLOAD_KEYS);

const codec = new AesGcmPayloadCodec(TEST_PAYLOAD_KEYS);

/** A payload read from raw history (sealed by the suite's codec), as its value. */
export async function openPayload<T>(payload: Payload): Promise<T> {
  const [opened] = await codec.decode([payload]);
  return defaultPayloadConverter.fromPayload<T>(opened!);
}

/** A codec server over the suite's keys, and the flags that make the `temporal` CLI use it. */
export interface TestCodecServer {
  server: CodecServer;
  /** `--codec-endpoint <url> --codec-auth "Bearer <token>"`. */
  cliArgs: string[];
  close(): Promise<void>;
}

/** Starts a codec server over the suite's keys, as an operator's CLI would reach it. */
export async function startTestCodecServer(): Promise<TestCodecServer> {
  const token = randomBytes(32).toString('base64url');
  const server = await startCodecServer({
    codec: new AesGcmPayloadCodec(TEST_PAYLOAD_KEYS),
    tokens: [token],
    corsOrigins: [],
    namespace: 'default',
  });
  return {
    server,
    cliArgs: ['--codec-endpoint', server.url, '--codec-auth', `Bearer ${token}`],
    close: () => server.close(),
  };
}
