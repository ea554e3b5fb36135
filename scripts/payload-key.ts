/**
 * `npm run payload-key [-- <key id>]`: makes a new payload key and prints its CMK_PAYLOAD_KEYS
 * entry. With CMK_PAYLOAD_KEY_WRAPPING_KEY set, the key is wrapped by that Key Vault key (the
 * worker and bot unwrap it at start-up) and the clear key is never printed. To rotate, put the new
 * entry first and keep the old one after it until no retained history needs it.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { CryptographyClient } from '@azure/keyvault-keys';
import { createPayloadKey } from '../src/codec/keys';

async function main(): Promise<void> {
  const id = process.argv[2] ?? new Date().toISOString().slice(0, 10);
  const wrappingKey = process.env.CMK_PAYLOAD_KEY_WRAPPING_KEY?.trim();
  const wrap = wrappingKey ? new CryptographyClient(wrappingKey, new DefaultAzureCredential()) : undefined;
  const { entry } = await createPayloadKey(id, wrap);
  process.stdout.write(`${entry}\n`);
  process.stderr.write(
    wrap
      ? `Wrapped by ${wrappingKey}. Add it first in CMK_PAYLOAD_KEYS (keep the old keys after it).\n`
      : 'Add it first in CMK_PAYLOAD_KEYS (keep the old keys after it). It is a secret: store it like one.\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`payload-key failed: ${(error as Error).message}\n`);
  process.exit(1);
});
