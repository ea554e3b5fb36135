/**
 * Where payload keys come from: `CMK_PAYLOAD_KEYS` in the environment (`id:base64,…`), or the
 * same list wrapped by a Key Vault RSA key (`CMK_PAYLOAD_KEY_WRAPPING_KEY`), unwrapped once at
 * start-up with RSA-OAEP-256 so the data keys never sit in configuration in clear.
 */
import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { CryptographyClient, type CryptographyClientOptions } from '@azure/keyvault-keys';
import { ValidationError } from '../shared/names';
import { KEY_BYTES, KEY_ID_PATTERN, validatePayloadKeys, type PayloadKey } from './aes-gcm-codec';

/** The codec part of the configuration. */
export interface CodecConfig {
  /** `off` only when CMK_PAYLOAD_ENCRYPTION=off: payloads are stored in clear. */
  encryption: 'on' | 'off';
  /** CMK_PAYLOAD_KEYS as listed: raw keys, or wrapped ones when `wrappingKeyId` is set. */
  keys: { id: string; material: Buffer }[];
  /** CMK_PAYLOAD_KEY_WRAPPING_KEY: a Key Vault key id (https://<vault>.vault.azure.net/keys/<name>/<version>). */
  wrappingKeyId?: string;
}

/** Wrap algorithm for Key Vault-held payload keys. */
const WRAP_ALGORITHM = 'RSA-OAEP-256';

/** Parses `CMK_PAYLOAD_KEYS` (`id:base64[,id:base64]`); the first key seals, the others only open. */
function parseKeyList(raw: string, key = 'CMK_PAYLOAD_KEYS'): { id: string; material: Buffer }[] {
  const out: { id: string; material: Buffer }[] = [];
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const material = Buffer.from(entry.slice(colon + 1), 'base64');
    if (!id || !KEY_ID_PATTERN.test(id) || material.length === 0)
      throw new ValidationError(
        key,
        'each entry must be <key id>:<base64 key>, e.g. 2026-11:…',
        entry.slice(0, 8),
      );
    out.push({ id, material });
  }
  if (!out.length) throw new ValidationError(key, 'lists no key');
  return out;
}

/** Reads the codec part of the environment; throws ValidationError naming the key. */
export function loadCodecConfig(env: Record<string, string | undefined>): CodecConfig {
  const mode = (env.CMK_PAYLOAD_ENCRYPTION?.trim() || 'on').toLowerCase();
  if (mode !== 'on' && mode !== 'off')
    throw new ValidationError('CMK_PAYLOAD_ENCRYPTION', 'must be on or off', mode);
  if (mode === 'off') return { encryption: 'off', keys: [] };
  const raw = env.CMK_PAYLOAD_KEYS?.trim();
  if (!raw)
    throw new ValidationError(
      'CMK_PAYLOAD_KEYS',
      'required: payloads are encrypted (make a key with `npm run payload-key`; CMK_PAYLOAD_ENCRYPTION=off stores them in clear)',
    );
  const keys = parseKeyList(raw);
  const wrappingKeyId = env.CMK_PAYLOAD_KEY_WRAPPING_KEY?.trim() || undefined;
  if (wrappingKeyId) {
    if (!/^https:\/\/[\w.-]+\/keys\/[\w-]+\/[\w]+$/.test(wrappingKeyId))
      throw new ValidationError(
        'CMK_PAYLOAD_KEY_WRAPPING_KEY',
        'must be a versioned Key Vault key id, https://<vault>.vault.azure.net/keys/<name>/<version>',
        wrappingKeyId,
      );
  } else {
    for (const { id, material } of keys)
      if (material.length !== KEY_BYTES)
        throw new ValidationError(
          'CMK_PAYLOAD_KEYS',
          `key "${id}" must be ${KEY_BYTES} bytes of base64 (AES-256)`,
        );
  }
  return { encryption: 'on', keys, ...(wrappingKeyId ? { wrappingKeyId } : {}) };
}

/** How to reach Key Vault when the keys are wrapped. */
export interface KeyVaultAccess {
  credential: TokenCredential;
  options?: CryptographyClientOptions;
}

/** The data keys, unwrapped by Key Vault when configured so; validated. Empty when encryption is off. */
export async function resolvePayloadKeys(
  config: CodecConfig,
  keyVault?: () => KeyVaultAccess,
): Promise<PayloadKey[]> {
  if (config.encryption === 'off') return [];
  if (!config.wrappingKeyId) {
    const keys = config.keys.map(({ id, material }) => ({ id, key: material }));
    validatePayloadKeys(keys);
    return keys;
  }
  if (!keyVault) throw new Error('payload keys are wrapped by Key Vault, but no Azure credential was given');
  const { credential, options } = keyVault();
  const client = new CryptographyClient(config.wrappingKeyId, credential, options);
  const keys: PayloadKey[] = [];
  for (const { id, material } of config.keys) {
    try {
      const { result } = await client.unwrapKey(WRAP_ALGORITHM, material);
      keys.push({ id, key: Buffer.from(result) });
    } catch (error) {
      throw new Error(
        `cannot unwrap payload key "${id}" with ${config.wrappingKeyId}: ${(error as Error).message}. ` +
          'The worker and bot identity needs the unwrapKey permission (Key Vault Crypto Service Encryption User) on that key.',
      );
    }
  }
  validatePayloadKeys(keys);
  return keys;
}

/** A new data key and its `CMK_PAYLOAD_KEYS` entry; wrapped when a Key Vault client is given. */
export async function createPayloadKey(
  id: string,
  wrap?: CryptographyClient,
): Promise<{ entry: string; key: PayloadKey }> {
  const key = randomBytes(KEY_BYTES);
  const material = wrap ? Buffer.from((await wrap.wrapKey(WRAP_ALGORITHM, key)).result) : key;
  return { entry: `${id}:${material.toString('base64')}`, key: { id, key } };
}
