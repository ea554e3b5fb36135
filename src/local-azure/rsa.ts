/** Real RSA key material for Key Vault keys, and RSA-OAEP wrap/unwrap with node:crypto. */
import {
  constants,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  createPublicKey,
  createPrivateKey,
} from 'node:crypto';
import { promisify } from 'node:util';
import type { KeyVersion } from './model';

const generate = promisify(generateKeyPair);

/** The RSA material of one key version. */
export type KeyPairMaterial = Pick<KeyVersion, 'n' | 'e' | 'privateKeyPem'>;

/**
 * Key pairs generated ahead of time, per modulus size, each handed out once. Real Key Vault
 * generates keys on its own hardware; a benchmark stocks this so the emulator's key generation
 * does not compete for the CPU with the code under measurement.
 */
const stock = new Map<number, KeyPairMaterial[]>();

/** Generates `count` RSA key pairs of `size` bits (on libuv's thread pool). */
export async function generateKeyPairs(size: number, count: number): Promise<KeyPairMaterial[]> {
  return Promise.all(Array.from({ length: count }, () => newKeyPair(size)));
}

/** Adds key pairs to the stock the next key versions of that size take from. */
export function stockKeyPairs(size: number, pairs: readonly KeyPairMaterial[]): void {
  stock.set(size, [...(stock.get(size) ?? []), ...pairs]);
}

/** Empties the stock. */
export function clearKeyPairStock(): void {
  stock.clear();
}

async function newKeyPair(size: number): Promise<KeyPairMaterial> {
  const { publicKey, privateKey } = await generate('rsa', { modulusLength: size, publicExponent: 0x10001 });
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    n: jwk.n ?? '',
    e: jwk.e ?? '',
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A new key version with a fresh RSA key pair and a 32-hex version id like Key Vault's. */
export async function createKeyVersion(
  input: Pick<KeyVersion, 'kty' | 'keySize' | 'keyOps' | 'enabled' | 'nbf' | 'exp' | 'tags'>,
  nowSeconds: number,
): Promise<KeyVersion> {
  const material = stock.get(input.keySize)?.shift() ?? (await newKeyPair(input.keySize));
  return {
    ...input,
    version: randomBytes(16).toString('hex'),
    created: nowSeconds,
    updated: nowSeconds,
    ...material,
  };
}

/** The wrap algorithms the emulator implements for real. */
export const WRAP_ALGORITHMS: readonly string[] = ['RSA-OAEP', 'RSA-OAEP-256'];

function padding(alg: string): { padding: number; oaepHash: string } {
  return { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === 'RSA-OAEP-256' ? 'sha256' : 'sha1' };
}

/** Encrypts `value` with the version's public key. */
export function wrap(kv: KeyVersion, alg: string, value: Buffer): Buffer {
  const key = createPublicKey(createPrivateKey(kv.privateKeyPem));
  return publicEncrypt({ key, ...padding(alg) }, value);
}

/** Decrypts `value` with the version's private key; throws when it was not wrapped by this key. */
export function unwrap(kv: KeyVersion, alg: string, value: Buffer): Buffer {
  return privateDecrypt({ key: kv.privateKeyPem, ...padding(alg) }, value);
}
