import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger, TemporalPinoLogger } from '../../src/telemetry/logger';
import { TEST_PAYLOAD_ENV } from '../helpers/codec';
import { signedDecision } from '../helpers/trust';
import { PEOPLE } from '../helpers/stack';

/** A logger writing into memory: its lines as text and parsed. */
function memoryLogger() {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ name: 'test', level: 'debug', destination });
  return { logger, text: () => text };
}

describe('the JSON logger never writes a secret', () => {
  test("when a line carries the bot's proofs, its signing key, payload keys or the codec token as fields, then each is redacted", async () => {
    const { logger, text } = memoryLogger();
    const decision = await signedDecision(
      { workflowId: 'cmk/s/rg/st', runId: 'r1' },
      PEOPLE.alice,
      'approve',
    );
    const pem = String(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const payloadKey = TEST_PAYLOAD_ENV.CMK_PAYLOAD_KEYS;
    logger.info({ decision, startProof: decision.proof, signing: { privateKey: pem } }, 'fields');
    logger.info({ env: { CMK_PAYLOAD_KEYS: payloadKey, CMK_CODEC_SERVER_TOKENS: 'c'.repeat(43) } }, 'env');
    logger.info({ material: Buffer.from('k'.repeat(32)).toString('base64') }, 'a key');
    const out = text();
    for (const secret of [decision.proof!, pem.split('\n')[1]!, payloadKey.split(',')[0]!, 'c'.repeat(43)])
      assert.ok(!out.includes(secret), `not in the log: ${secret.slice(0, 24)}…`);
    assert.ok(!out.includes('a2tr'), 'the key material is not written');
    assert.match(out, /"approverAadId":"[0-9a-f-]{36}"/, 'what is not secret stays');
  });

  test('when a message or an error quotes a proof, a private key, a bearer token or a payload key setting, then the text is scrubbed', async () => {
    const { logger, text } = memoryLogger();
    const { proof } = await signedDecision({ workflowId: 'cmk/s/rg/st', runId: 'r2' }, PEOPLE.bob, 'reject');
    const pem = String(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const failure = new Error(`the update carried ${proof}`, { cause: new Error(`read ${pem}`) });
    logger.warn(
      { err: failure },
      `CMK_PAYLOAD_KEYS=${TEST_PAYLOAD_ENV.CMK_PAYLOAD_KEYS} with Bearer abc.def`,
    );
    new TemporalPinoLogger(logger).warn('Activity failed', { error: failure, workflowId: 'cmk/s/rg/st' });
    const out = text();
    for (const secret of [proof!, pem.split('\n')[1]!, TEST_PAYLOAD_ENV.CMK_PAYLOAD_KEYS, 'abc.def'])
      assert.ok(!out.includes(secret), `not in the log: ${secret.slice(0, 24)}…`);
    assert.match(out, /CMK_PAYLOAD_KEYS=\[redacted\]/);
    assert.match(out, /the update carried \[redacted\]/);
    assert.match(out, /"account":"st"/, 'the Temporal lines keep their ids');
  });
});
