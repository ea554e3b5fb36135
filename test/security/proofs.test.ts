import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { calculateJwkThumbprint, CompactSign } from 'jose';
import { createProofSigner, type DecisionToSign } from '../../src/bot/signing';
import { PRELOADED_MODULES } from '../../src/workflow-bundle';
import { createSettingsActivities, nodeEd25519Verify } from '../../src/activities/settings';
import { testPolicy } from '../helpers/stack';
import {
  checkFreshness,
  PROOF_TYPES,
  ProofNotValid,
  pureEd25519Verify,
  selfTestVerifier,
  verifyDecisionProof,
  verifyStartProof,
  type BotPublicKey,
} from '../../src/shared/proof';

async function keyPair(): Promise<{
  signer: ReturnType<typeof createProofSigner>;
  key: BotPublicKey;
  privateKey: KeyObject;
}> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const x = String(publicKey.export({ format: 'jwk' }).x);
  const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x });
  return { signer: createProofSigner({ privateKey, kid }), key: { kid, x }, privateKey };
}

const decision: DecisionToSign = {
  workflowId: 'cmk/sub/rg/stcontoso',
  runId: 'run-1',
  fingerprint: 'f'.repeat(64),
  verdict: 'approve',
  approver: { aadObjectId: 'AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA', name: 'Alice Approver' },
  tenantId: '7E57E57E-0000-4000-8000-00000000C0DE',
  invokeId: 'invoke-1',
};

const problem = (name: ProofNotValid['problem']) => (error: unknown) =>
  error instanceof ProofNotValid && error.problem === name;

describe('proofs the bot signs and the worker verifies', () => {
  let bot: Awaited<ReturnType<typeof keyPair>>;
  let other: Awaited<ReturnType<typeof keyPair>>;
  before(async () => {
    bot = await keyPair();
    other = await keyPair();
  });

  test('when the bot signs a decision, then the verifier returns its claims, lowercased ids included', async () => {
    const claims = verifyDecisionProof(await bot.signer.signDecision(decision), [bot.key], Date.now());
    assert.equal(claims.wf, decision.workflowId);
    assert.equal(claims.run, 'run-1');
    assert.equal(claims.fp, decision.fingerprint);
    assert.equal(claims.verdict, 'approve');
    assert.equal(claims.sub, decision.approver.aadObjectId.toLowerCase());
    assert.equal(claims.tid, decision.tenantId.toLowerCase());
    assert.equal(claims.jti, 'invoke-1');
    assert.ok(claims.exp - claims.iat <= 300);
  });

  test("when the worker's sandbox starts, then it loads the verifier and the runbooks once for every run, after checking the verifier against RFC 8032's test 1", () => {
    assert.doesNotThrow(() => selfTestVerifier());
    assert.deepEqual(PRELOADED_MODULES, [
      require.resolve('../../src/shared/proof-preload'),
      require.resolve('../../src/workflows'),
    ]);
  });

  test('when two keys are configured (rotation), then proofs by either verify and a third key does not', async () => {
    const keys = [other.key, bot.key];
    verifyDecisionProof(await bot.signer.signDecision(decision), keys, Date.now());
    verifyDecisionProof(await other.signer.signDecision(decision), keys, Date.now());
    const stranger = await keyPair();
    const token = await stranger.signer.signDecision(decision);
    assert.throws(() => verifyDecisionProof(token, keys, Date.now()), problem('unknown-key'));
  });

  test('when a proof is tampered with, forged, of the wrong type, expired or not a JWS, then it is refused and says why', async () => {
    const token = await bot.signer.signDecision(decision);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const changed = Buffer.from(JSON.stringify({ ...body, verdict: 'reject' })).toString('base64url');
    assert.throws(
      () => verifyDecisionProof(`${header}.${changed}.${signature}`, [bot.key], Date.now()),
      problem('bad-signature'),
    );
    // The other key signs under the bot's kid: a forgery.
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify(body)))
      .setProtectedHeader({ alg: 'EdDSA', kid: bot.key.kid, typ: PROOF_TYPES.decision })
      .sign(other.privateKey);
    assert.throws(() => verifyDecisionProof(forged, [bot.key], Date.now()), problem('bad-signature'));
    const start = await bot.signer.signStart({
      operation: 'revoke',
      target: '/subscriptions/x',
      requester: decision.approver,
      tenantId: decision.tenantId,
    });
    assert.throws(() => verifyDecisionProof(start, [bot.key], Date.now()), problem('wrong-type'));
    assert.throws(() => verifyStartProof(token, [bot.key]), problem('wrong-type'));
    assert.throws(() => verifyDecisionProof(token, [bot.key], Date.now() + 20 * 60_000), problem('expired'));
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: PROOF_TYPES.decision })).toString('base64url')}.${payload}.`;
    assert.throws(() => verifyDecisionProof(unsigned, [bot.key], Date.now()), problem('malformed'));
    assert.throws(() => verifyDecisionProof('not a proof', [bot.key], Date.now()), problem('malformed'));
    assert.throws(() => verifyDecisionProof(undefined, [bot.key], Date.now()), problem('missing'));
  });

  test('when a start is signed, then it names requester, operation, target and conversation; only a schedule has no expiry', async () => {
    const conversation = { serviceUrl: 'https://smba.trafficmanager.net/teams/', conversation: { id: 'c1' } };
    const start = verifyStartProof(
      await bot.signer.signStart({
        operation: 'revoke',
        target: '/subscriptions/s/resourcegroups/rg/providers/microsoft.storage/storageaccounts/st1',
        requester: decision.approver,
        tenantId: decision.tenantId,
        conversation,
      }),
      [bot.key],
    );
    assert.equal(start.op, 'revoke');
    assert.deepEqual(start.conv, conversation);
    assert.throws(() => checkFreshness(start, Date.now() + 20 * 60_000), problem('expired'));
    const schedule = verifyStartProof(
      await bot.signer.signStart({
        operation: 'scheduleRotation',
        target: 't',
        requester: decision.approver,
        tenantId: decision.tenantId,
      }),
      [bot.key],
    );
    assert.equal(schedule.exp, undefined);
    checkFreshness(schedule, Date.now() + 365 * 86_400_000, { requireExpiry: false });
    assert.throws(() => checkFreshness(schedule, Date.now()), problem('malformed'));
  });
  test("when the worker checks a signature with Node's crypto, then it agrees with the pure verifier on RFC 8032's test 1, a flipped bit, a non-canonical S (S + L, which strict RFC 8032 §5.1.7 refuses) and another key", () => {
    const hexBytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
    // RFC 8032 §7.1 TEST 1: the empty message.
    const publicKey = hexBytes('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const signature = hexBytes(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    const empty = new Uint8Array(0);
    const flipped = signature.slice();
    flipped[0]! ^= 1;
    // S + L, little-endian: the same point equation, but S is not below the group order.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
    const nonCanonical = signature.slice();
    let big = s + L;
    for (let i = 0; i < 32; i++, big >>= 8n) nonCanonical[32 + i] = Number(big & 0xffn);
    const otherKey = Uint8Array.from(Buffer.from(other.key.x, 'base64url'));
    const native = nodeEd25519Verify();
    const cases: [string, Uint8Array, Uint8Array, boolean][] = [
      ['test 1', signature, publicKey, true],
      ['a flipped bit', flipped, publicKey, false],
      ['S + L', nonCanonical, publicKey, false],
      ['another key', signature, otherKey, false],
    ];
    for (const [name, sig, key, valid] of cases) {
      assert.equal(pureEd25519Verify(sig, empty, key), valid, `pure: ${name}`);
      assert.equal(native(sig, empty, key), valid, `native: ${name}`);
    }
  });

  test("when the worker's settings activity checks start proofs, then a good one gives its claims and a tampered, forged or unknown-key one gives the problem, as the pure verifier says", async () => {
    const settings = createSettingsActivities({
      policy: testPolicy(),
      botKeys: [bot.key],
      trustedServiceUrls: [],
    });
    const start = await bot.signer.signStart({
      operation: 'revoke',
      target: '/subscriptions/x',
      requester: decision.approver,
      tenantId: decision.tenantId,
    });
    const [header, payload, signature] = start.split('.') as [string, string, string];
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...body, op: 'rotate' })).toString('base64url')}.${signature}`;
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify(body)))
      .setProtectedHeader({ alg: 'EdDSA', kid: bot.key.kid, typ: PROOF_TYPES.start })
      .sign(other.privateKey);
    const byOther = await other.signer.signStart({
      operation: 'revoke',
      target: '/subscriptions/x',
      requester: decision.approver,
      tenantId: decision.tenantId,
    });
    const verdict = async (token: string) => (await settings.loadRunSettings({ startProof: token })).start;
    assert.deepEqual(await verdict(start), { claims: verifyStartProof(start, [bot.key]) });
    for (const [name, token, problem] of [
      ['tampered', tampered, 'bad-signature'],
      ["forged under the bot's kid", forged, 'bad-signature'],
      ['signed by a key the worker does not know', byOther, 'unknown-key'],
    ] as const) {
      const got = await verdict(token);
      assert.equal(got && 'problem' in got ? got.problem : undefined, problem, name);
    }
  });
});
