/**
 * Proofs that a start or a decision came through the bot: Ed25519 compact JWS (RFC 7515 with
 * RFC 8037's `EdDSA`) that only the bot can sign. Verified here synchronously and without Node,
 * so the `decide` validator (and runs started before the worker verified starts) can check them
 * inside the workflow sandbox, and the worker's settings activity checks start proofs with the
 * same code. This is the one workflow-side module that may import the audited pure-JS crypto packages.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { base64urlnopad, hex } from '@scure/base';
import type { ConversationRef } from './chat';

/** A public key the worker accepts, named by its key id (the RFC 7638 JWK thumbprint). */
export interface BotPublicKey {
  kid: string;
  /** The raw 32-byte Ed25519 public key, base64url without padding (the JWK's `x`). */
  x: string;
}

/** The JWS `typ` of each kind of proof, so a start proof can never pass as a decision. */
export const PROOF_TYPES = {
  decision: 'cmk-decision+jwt',
  start: 'cmk-start+jwt',
  runAction: 'cmk-run-action+jwt',
} as const;

/** Seconds a proof lives: long enough for a queued start or update, short enough to be useless later. */
export const PROOF_LIFETIME_SECONDS = 300;

/** Clock skew tolerated between the bot and the worker, in seconds. */
export const CLOCK_SKEW_SECONDS = 60;

/** What the bot signs when a person clicks Approve or Reject on a run card. */
export interface DecisionClaims {
  /** Workflow id and run id of the run the card belongs to. */
  wf: string;
  run: string;
  /** Fingerprint of the plan the card showed. */
  fp: string;
  verdict: 'approve' | 'reject';
  /** The clicker's Entra object id (lowercase) and display name. */
  sub: string;
  name: string;
  /** The clicker's tenant. */
  tid: string;
  /** The Teams invoke activity id: one click, one proof. */
  jti: string;
  comment?: string;
  iat: number;
  exp: number;
}

/** What the bot signs when a person asks for a runbook (or a rotation schedule). */
export interface StartClaims {
  /** The operation asked for (`scheduleRotation` for a schedule's runs). */
  op: string;
  /** The account's resource id (lowercase), or a fleet's workflow id. */
  target: string;
  /** The requester's Entra object id (lowercase), display name and tenant. */
  sub: string;
  name: string;
  tid: string;
  /** The conversation the run reports into, exactly as the bot captured it. */
  conv?: ConversationRef;
  jti: string;
  iat: number;
  /** Absent only for schedules, whose runs start long after the person asked. */
  exp?: number;
}

/** What a person may do to a run besides deciding: withdraw it, or have a card they see follow it. */
export const RUN_ACTIONS = ['cancel', 'follow'] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

/** What the bot signs when a person cancels a run, or asks for a card (e.g. `status`) to follow it. */
export interface RunActionClaims {
  act: RunAction;
  wf: string;
  run: string;
  /** The person's Entra object id (lowercase), display name and tenant. */
  sub: string;
  name: string;
  tid: string;
  /** `follow`: the conversation and message of the card to keep up to date, as the bot posted it. */
  conv?: ConversationRef;
  msg?: string;
  /** The Teams activity id of the command or click: one action, one proof. */
  jti: string;
  iat: number;
  exp: number;
}

/** Why a proof was not accepted; callers turn the reason into a sentence for the person. */
export const PROOF_PROBLEMS = [
  'missing',
  'malformed',
  'unknown-key',
  'bad-signature',
  'wrong-type',
  'expired',
  'not-yet-valid',
] as const;
export type ProofProblem = (typeof PROOF_PROBLEMS)[number];

/** A proof that does not verify; `problem` says which check failed. */
export class ProofNotValid extends Error {
  override readonly name = 'ProofNotValid';
  constructor(
    readonly problem: ProofProblem,
    detail: string,
  ) {
    super(detail);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ascii = new TextEncoder();
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * An Ed25519 signature check: true when `signature` is `publicKey`'s over `message` under strict
 * RFC 8032 (no ZIP-215); false, never a throw, for anything else.
 */
export type Ed25519Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

/** {@link Ed25519Verify} by `@noble/curves`, which runs anywhere, the workflow sandbox included. */
export const pureEd25519Verify: Ed25519Verify = (signature, message, publicKey) => {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
};

/**
 * Checks a compact JWS of the given `typ` against the accepted keys and returns its payload.
 * Only `alg: EdDSA` with a known `kid` is accepted; verification is strict RFC 8032 (no ZIP-215),
 * by `verify` (pure JavaScript unless the caller has a faster one).
 */
export function verifyCompactJws(
  token: unknown,
  keys: readonly BotPublicKey[],
  typ: string,
  verify: Ed25519Verify = pureEd25519Verify,
): unknown {
  if (typeof token !== 'string' || token === '') throw new ProofNotValid('missing', 'no proof was sent');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p)))
    throw new ProofNotValid('malformed', 'not a compact JWS');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart) as Record<string, unknown>;
  if (header.alg !== 'EdDSA' || 'crit' in header)
    throw new ProofNotValid('malformed', `algorithm ${String(header.alg)} is not EdDSA`);
  if (header.typ !== typ) throw new ProofNotValid('wrong-type', `a ${String(header.typ)} is not a ${typ}`);
  const key = keys.find((k) => k.kid === header.kid);
  if (!key) throw new ProofNotValid('unknown-key', `key ${String(header.kid)} is not one the worker trusts`);
  const signature = decodeBytes(signaturePart);
  const publicKey = decodeBytes(key.x);
  const signed = ascii.encode(`${headerPart}.${payloadPart}`);
  const valid = signature.length === 64 && verify(signature, signed, publicKey);
  if (!valid) throw new ProofNotValid('bad-signature', 'the signature does not verify');
  return decodeJson(payloadPart);
}

/**
 * RFC 8032 §7.1, TEST 1: a public key, the empty message and its signature. {@link selfTestVerifier}
 * checks the verifier against it.
 */
const RFC8032_TEST_1 = {
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  signature:
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
};

/**
 * Checks the Ed25519 verifier against RFC 8032's first test vector (and the same signature with
 * one bit flipped, which must fail); throws when either answer is wrong. Its first verification
 * also builds the verifier's table of multiples of the base point, which every later verification
 * in the same module instance reuses: run where the table should be built once (the workflow
 * sandbox's preload, see `proof-preload.ts`).
 */
export function selfTestVerifier(): void {
  const publicKey = hex.decode(RFC8032_TEST_1.publicKey);
  const signature = hex.decode(RFC8032_TEST_1.signature);
  const empty = new Uint8Array(0);
  const flipped = signature.slice();
  flipped[0]! ^= 1;
  if (
    !ed25519.verify(signature, empty, publicKey, { zip215: false }) ||
    ed25519.verify(flipped, empty, publicKey, { zip215: false })
  )
    throw new Error('The Ed25519 verifier fails RFC 8032 test 1; decision proofs cannot be checked.');
}

/** Verifies a decision proof and checks its claims' shapes and times (`nowMs`: the workflow's clock). */
export function verifyDecisionProof(
  token: unknown,
  keys: readonly BotPublicKey[],
  nowMs: number,
): DecisionClaims {
  const claims = verifyCompactJws(token, keys, PROOF_TYPES.decision) as Record<string, unknown>;
  for (const field of ['wf', 'run', 'fp', 'sub', 'tid', 'jti'] as const) requireString(claims, field);
  requireText(claims, 'name');
  if (claims.verdict !== 'approve' && claims.verdict !== 'reject')
    throw new ProofNotValid('malformed', 'the verdict is neither approve nor reject');
  if (claims.comment !== undefined && typeof claims.comment !== 'string')
    throw new ProofNotValid('malformed', 'the comment is not text');
  checkFreshness(claims, nowMs);
  return claims as unknown as DecisionClaims;
}

/** Verifies a run-action proof (cancel or follow) and checks its claims' shapes and times. */
export function verifyRunActionProof(
  token: unknown,
  keys: readonly BotPublicKey[],
  nowMs: number,
): RunActionClaims {
  const claims = verifyCompactJws(token, keys, PROOF_TYPES.runAction) as Record<string, unknown>;
  for (const field of ['wf', 'run', 'sub', 'tid', 'jti'] as const) requireString(claims, field);
  requireText(claims, 'name');
  if (!(RUN_ACTIONS as readonly unknown[]).includes(claims.act))
    throw new ProofNotValid('malformed', `the action ${String(claims.act)} is not one a run knows`);
  if (claims.act === 'follow') {
    if (typeof claims.conv !== 'object' || claims.conv === null)
      throw new ProofNotValid('malformed', 'the conversation of the card to follow is missing');
    requireString(claims, 'msg');
  }
  checkFreshness(claims, nowMs);
  return claims as unknown as RunActionClaims;
}

/**
 * Verifies a start proof's signature and claim shapes. Its times are checked by the caller with
 * {@link checkFreshness}: a schedule's or a fleet's proof is checked once, when that run starts.
 */
export function verifyStartProof(
  token: unknown,
  keys: readonly BotPublicKey[],
  verify?: Ed25519Verify,
): StartClaims {
  const claims = verifyCompactJws(token, keys, PROOF_TYPES.start, verify) as Record<string, unknown>;
  for (const field of ['op', 'target', 'sub', 'tid', 'jti'] as const) requireString(claims, field);
  requireText(claims, 'name');
  if (claims.conv !== undefined && (typeof claims.conv !== 'object' || claims.conv === null))
    throw new ProofNotValid('malformed', 'the conversation is not an object');
  if (typeof claims.iat !== 'number') throw new ProofNotValid('malformed', 'no issue time');
  if (claims.exp !== undefined && typeof claims.exp !== 'number')
    throw new ProofNotValid('malformed', 'the expiry is not a time');
  return claims as unknown as StartClaims;
}

/**
 * A start proof's signature check as data, so it can cross an activity boundary and be recorded:
 * the verified claims, or which check failed and why (the run turns it into its refusal).
 */
export type StartCheck = { claims: StartClaims } | { problem: ProofProblem; detail: string };

/** {@link verifyStartProof} with its verdict returned rather than thrown. */
export function checkStartProof(
  token: unknown,
  keys: readonly BotPublicKey[],
  verify?: Ed25519Verify,
): StartCheck {
  try {
    return { claims: verifyStartProof(token, keys, verify) };
  } catch (error) {
    if (!(error instanceof ProofNotValid)) throw error;
    return { problem: error.problem, detail: error.message };
  }
}

/** The claims of a {@link StartCheck}; throws the {@link ProofNotValid} it carries when it failed. */
export function claimsOf(check: StartCheck): StartClaims {
  if ('claims' in check) return check.claims;
  throw new ProofNotValid(check.problem, check.detail);
}

/**
 * Checks a proof's issue and expiry times against `nowMs` (the workflow's clock, or the time the
 * run started). Without `exp` a proof is fresh only when `requireExpiry` is false.
 */
export function checkFreshness(
  claims: { iat?: unknown; exp?: unknown },
  nowMs: number,
  { requireExpiry = true }: { requireExpiry?: boolean } = {},
): void {
  const now = Math.floor(nowMs / 1000);
  if (typeof claims.iat !== 'number') throw new ProofNotValid('malformed', 'no issue time');
  if (claims.iat > now + CLOCK_SKEW_SECONDS)
    throw new ProofNotValid('not-yet-valid', 'it was issued in the future');
  if (claims.exp === undefined && !requireExpiry) return;
  if (typeof claims.exp !== 'number') throw new ProofNotValid('malformed', 'no expiry');
  if (claims.exp - claims.iat > PROOF_LIFETIME_SECONDS * 2)
    throw new ProofNotValid('malformed', 'it is valid for longer than the bot ever signs');
  if (now > claims.exp + CLOCK_SKEW_SECONDS)
    throw new ProofNotValid('expired', `it expired at ${new Date(claims.exp * 1000).toISOString()}`);
}

/**
 * A proof's payload without checking it. Only for proofs a validator has already verified
 * (the `decide` handler reads the click id of the decision it records); never for a decision.
 */
export function unverifiedClaims(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJson(token.split('.')[1] ?? '') as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function requireString(claims: Record<string, unknown>, field: string): void {
  if (typeof claims[field] !== 'string' || claims[field] === '')
    throw new ProofNotValid('malformed', `the claim "${field}" is missing`);
}

function requireText(claims: Record<string, unknown>, field: string): void {
  if (typeof claims[field] !== 'string')
    throw new ProofNotValid('malformed', `the claim "${field}" is missing`);
}

function decodeBytes(segment: string): Uint8Array {
  try {
    return base64urlnopad.decode(segment);
  } catch {
    throw new ProofNotValid('malformed', 'not base64url');
  }
}

function decodeJson(segment: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(decodeBytes(segment)));
  } catch (error) {
    if (error instanceof ProofNotValid) throw error;
    throw new ProofNotValid('malformed', 'not JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new ProofNotValid('malformed', 'not a JSON object');
  return value;
}
