/**
 * Start proofs through the real entry point (a Temporal client start, as anyone with namespace
 * access can make one), now that the worker verifies the signature when the run loads its
 * settings and the run checks the claims: forgeries and keys the worker does not trust are still
 * refused with today's sentences before any step, and a run records the verdict, never a secret.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Payload } from '@temporalio/common';
import { createProofSigner, type ProofSigner } from '../../src/bot/signing';
import { keyIdOf } from '../../src/config';
import type { AccountRef } from '../../src/shared/accounts';
import type { Person } from '../../src/shared/approval';
import type { ProofProblem, StartClaims } from '../../src/shared/proof';
import { proofTargetOf, startOptionsFor, startTargetOf, type InputByOperation } from '../../src/shared/start';
import { baselinePatches, RULES_MEMO } from '../../src/shared/rules';
import { PATCHES } from '../../src/workflows/patches';
import { openPayload } from '../helpers/codec';
import { PEOPLE, resultOf, startStack } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { inTeams, TEST_SIGNING, TEST_TENANT, testSigner } from '../helpers/trust';
import { beforeAll } from '../kit/suite';
import { recordedSettings } from './audit';

/** A signer over a fresh Ed25519 key, under the given key id or its own. */
function strangerSigner(kid?: string): ProofSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return createProofSigner({
    privateKey,
    kid: kid ?? keyIdOf(String(publicKey.export({ format: 'jwk' }).x)),
  });
}

/** The claims a compact JWS carries, read without checking it. */
function payloadOf(token: string): StartClaims {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as StartClaims;
}

/** Every payload of a history opened (sealed ones through the suite's codec), as text. */
async function openedPayloads(value: unknown, out: string[] = []): Promise<string[]> {
  if (!value || typeof value !== 'object') return out;
  const candidate = value as Partial<Payload>;
  if (candidate.metadata && 'data' in candidate) {
    out.push(JSON.stringify(await openPayload<unknown>(candidate)));
    return out;
  }
  for (const child of Object.values(value)) await openedPayloads(child, out);
  return out;
}

/** Renders of the test bot's private key a leak could take: its JWK `d`, its PKCS#8 DER. */
function privateKeyForms(): string[] {
  const d = String(TEST_SIGNING.privateKey.export({ format: 'jwk' }).d);
  const der = TEST_SIGNING.privateKey.export({ format: 'der', type: 'pkcs8' });
  return [d, Buffer.from(d, 'base64url').toString('base64'), der.toString('base64'), der.toString('hex')];
}

describe('start proofs, verified by the worker and checked by the run', () => {
  const stack = beforeAll(() => startStack());
  const name = () => uniqueId('stp').replace(/-/g, '').slice(0, 20);

  async function startRotation(
    account: AccountRef,
    proof: (target: string) => Promise<string>,
    requester: Person = PEOPLE.requester,
  ) {
    const input: InputByOperation['rotate'] = {
      account,
      requester,
      conversation: inTeams({ id: uniqueId('conv') }),
    };
    const { workflowType, ...options } = startOptionsFor('rotate', input, stack.taskQueue);
    const startProof = await proof(proofTargetOf(input, options.workflowId));
    return stack.client.workflow.start(workflowType, { ...options, args: [{ ...input, startProof }] });
  }

  const signed =
    (signer: ProofSigner, extra: { issuedAtMs?: number; target?: string } = {}) =>
    (target: string) =>
      signer.signStart({
        operation: 'rotate',
        target: extra.target ?? target,
        requester: PEOPLE.requester,
        tenantId: TEST_TENANT,
        ...(extra.issuedAtMs === undefined ? {} : { issuedAtMs: extra.issuedAtMs }),
      });

  test("when rotations are started through the Temporal client with a forged proof, one signed by a key the worker does not trust, a tampered one, one for another account, an expired one or one for another requester, then each ends invalid with its sentence, no Azure step runs and the account's key is untouched", async () => {
    const other = stack.azure.addCmkAccount(name(), { pinned: true });
    const tampered = async (target: string) => {
      const [header, , signature] = (await signed(testSigner)(startTargetOf(other))).split('.');
      const body = { ...payloadOf(await signed(testSigner)(target)), target };
      return `${header}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${signature}`;
    };
    const cases: [string, (target: string) => Promise<string>, RegExp, ProofProblem | undefined, Person?][] =
      [
        [
          "forged: another key signs under the bot's key id",
          signed(strangerSigner(TEST_SIGNING.kid)),
          /^Nothing was started: the start's signature does not verify against the bot keys this worker trusts \(the signature does not verify\)\.$/,
          'bad-signature',
        ],
        [
          'signed by a key the worker does not trust',
          signed(strangerSigner()),
          /^Nothing was started: the start's signature does not verify against the bot keys this worker trusts \(key \S+ is not one the worker trusts\)\.$/,
          'unknown-key',
        ],
        [
          "the bot's proof for another account, its target changed",
          tampered,
          /^Nothing was started: the start's signature does not verify against the bot keys this worker trusts \(the signature does not verify\)\.$/,
          'bad-signature',
        ],
        [
          "the bot's proof for another account",
          signed(testSigner, { target: startTargetOf(other) }),
          /^Nothing was started: the bot signed for rotate of \S+, not for this run\.$/,
          undefined,
        ],
        [
          "the bot's proof, expired",
          signed(testSigner, { issuedAtMs: Date.now() - 20 * 60_000 }),
          /^Nothing was started: the bot's signature on the start is out of date \(it expired at .+\); ask again in chat\.$/,
          undefined,
        ],
        [
          "the bot's proof for Rita, the start naming Mallory",
          signed(testSigner),
          /^Nothing was started: the start names another requester than the one the bot signed for\.$/,
          undefined,
          PEOPLE.mallory,
        ],
      ];
    for (const [label, proof, sentence, problem, requester] of cases) {
      const account = stack.azure.addCmkAccount(name(), { pinned: true });
      const before = stack.azure.account(account.name).encryption.keyVersion;
      const handle = await startRotation(account, proof, requester);
      const result = await resultOf(handle);
      assert.equal(result.outcome, 'invalid', label);
      assert.match(result.message, sentence, label);
      const events = (await handle.fetchHistory()).events ?? [];
      assert.deepEqual(
        events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
        ['loadRunSettings'],
        `${label}: the settings load is the run's only step`,
      );
      const verdict = (await recordedSettings(events))?.start;
      if (problem)
        assert.equal(verdict && 'problem' in verdict ? verdict.problem : 'verified', problem, label);
      else
        assert.ok(
          verdict && 'claims' in verdict,
          `${label}: the signature verified, the run refused the claims`,
        );
      assert.equal(stack.azure.account(account.name).encryption.keyVersion, before, label);
      assert.equal(
        stack.azure.vaults.get(`kv-${account.name}`)!.keys.get('cmk-key')!.versions.length,
        1,
        label,
      );
    }
  });

  test("when a rotation is started with the bot's proof, then it succeeds, its history records the worker's verdict (the signed claims) under the patch its rules hold, and no form of the bot's private key is anywhere in it", async () => {
    const account = stack.azure.addCmkAccount(name(), { pinned: true });
    let proof = '';
    const handle = await startRotation(account, async (target) => (proof = await signed(testSigner)(target)));
    assert.equal((await resultOf(handle)).outcome, 'succeeded');
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const settings = await recordedSettings(events);
    assert.deepEqual(settings?.start, { claims: payloadOf(proof) });
    const texts = await openedPayloads(history);
    // The bot starts runs under the current rules, which hold the patch without a marker.
    const rules = (await handle.describe()).memo?.[RULES_MEMO];
    assert.ok(
      baselinePatches(rules).includes(PATCHES.proofVerifiedByWorker) ||
        texts.some((t) => t.includes(PATCHES.proofVerifiedByWorker)),
      `the run takes the patch (rules ${String(rules)})`,
    );
    const everything = `${JSON.stringify(history)}\n${texts.join('\n')}`;
    for (const secret of privateKeyForms())
      assert.ok(!everything.includes(secret), 'no private key in history');
  });
});
