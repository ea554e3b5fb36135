/**
 * `npm run signing-key -- <file>`: the bot's Ed25519 signing key. Creates it in `<file>` (PKCS#8
 * PEM, readable by its owner only) unless it exists, then prints what the worker is configured
 * with (`CMK_BOT_PUBLIC_KEYS`) and the key id proofs carry. `npm start` uses it for its data dir.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keyIdOf } from '../src/config';

/** A bot signing key on disk and its public half. */
export interface SigningKeyFile {
  file: string;
  /** Raw Ed25519 public key, base64url: an entry of CMK_BOT_PUBLIC_KEYS. */
  publicKey: string;
  kid: string;
  created: boolean;
}

/** Reads the key in `file`, creating it first when there is none. */
export function ensureSigningKey(file: string): SigningKeyFile {
  let created = false;
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    created = true;
  }
  const privateKey = createPrivateKey(readFileSync(file));
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${file} holds a ${privateKey.asymmetricKeyType} key; the bot signs with Ed25519.`);
  const publicKey = String(createPublicKey(privateKey).export({ format: 'jwk' }).x);
  return { file, publicKey, kid: keyIdOf(publicKey), created };
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: npm run signing-key -- <file>   (created when missing)\n');
    process.exit(2);
  }
  const key = ensureSigningKey(path.resolve(file));
  process.stdout.write(
    [
      `${key.created ? 'Created' : 'Read'} ${key.file} (key id ${key.kid}).`,
      'Bot:    CMK_BOT_SIGNING_KEY_FILE=' + key.file,
      'Worker: CMK_BOT_PUBLIC_KEYS=' + key.publicKey,
      '',
    ].join('\n'),
  );
}
