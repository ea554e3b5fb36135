/**
 * The payload codec: every payload Temporal stores (inputs, results, plans, decisions, user
 * metadata, failure details) is sealed with AES-256-GCM before it leaves the process, so the
 * server's history holds only ciphertext (a run's rules name alone stays in clear, see
 * `isRulesName`). The key id travels in the payload's metadata; the first
 * key encrypts and every listed key decrypts, so keys rotate without losing old histories.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { RULES_NAMES } from '../shared/rules';

/** `encoding` of a sealed payload. */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** Metadata key that names the key a payload was sealed with. */
export const METADATA_KEY_ID = 'encryption-key-id';
/** Metadata key that names the cipher (for readers other than this codec). */
const METADATA_CIPHER = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';

/** What a payload key's id may be: it travels in clear in every payload's metadata. */
export const KEY_ID_PATTERN = /^[\w.-]{1,64}$/;
/** A payload key's length: AES-256 takes 32 bytes. */
export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A data key: {@link KEY_BYTES} random bytes and the id written next to what it seals. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/** A payload names a key this process does not have (retired too early, or another deployment's). */
export class PayloadKeyUnknown extends Error {
  override readonly name = 'PayloadKeyUnknown';
  constructor(readonly keyId: string) {
    super(
      `A payload is sealed with key "${keyId}", which is not among this process's payload keys; ` +
        'keep a retired key listed (second in CMK_PAYLOAD_KEYS) until no open run and no retained history needs it.',
    );
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Checks ids and lengths once, so a bad key fails at start-up, not on the first payload. */
export function validatePayloadKeys(keys: readonly PayloadKey[]): void {
  if (!keys.length) throw new Error('at least one payload key is needed');
  const ids = new Set<string>();
  for (const { id, key } of keys) {
    if (!KEY_ID_PATTERN.test(id))
      throw new Error(`payload key id "${id}" must be 1–64 letters, digits, . _ -`);
    if (key.length !== KEY_BYTES)
      throw new Error(`payload key "${id}" must be ${KEY_BYTES} bytes (AES-256), got ${key.length}`);
    if (ids.has(id)) throw new Error(`payload key id "${id}" is listed twice`);
    ids.add(id);
  }
}

/** The JSON forms of the released rules names (src/shared/rules.ts), the only payloads left in clear. */
const CLEAR = new Set(RULES_NAMES.map((name) => JSON.stringify(name)));

/**
 * A run's rules name (its memo, `cmkRules`): exactly a released baseline's name as plain JSON. It
 * stays in clear so a client without the codec can still describe and list runs (the SDK decodes
 * every memo it reads); it names a release and nothing else.
 */
function isRulesName(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  if (!encoding || decoder.decode(encoding) !== 'json/plain' || !payload.data) return false;
  return payload.data.length < 64 && CLEAR.has(decoder.decode(payload.data));
}

/** AES-256-GCM over the whole serialized payload (its metadata included); the key id is authenticated. */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  /** `keys[0]` seals; all of `keys` open. */
  constructor(keys: readonly PayloadKey[]) {
    validatePayloadKeys(keys);
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** Ids of the keys this codec opens, the sealing one first. */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (isRulesName(payload)) return payload;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      cipher.setAAD(Buffer.from(this.current.id, 'utf8'));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: encoder.encode(ENCODING_ENCRYPTED),
          [METADATA_KEY_ID]: encoder.encode(this.current.id),
          [METADATA_CIPHER]: encoder.encode(CIPHER),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || decoder.decode(encoding) !== ENCODING_ENCRYPTED) return payload;
      const idBytes = payload.metadata?.[METADATA_KEY_ID];
      const keyId = idBytes ? decoder.decode(idBytes) : '';
      const key = this.byId.get(keyId);
      if (!key) throw new PayloadKeyUnknown(keyId);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES)
        throw new Error('an encrypted payload is too short to be valid');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(keyId, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
