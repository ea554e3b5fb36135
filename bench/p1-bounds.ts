/**
 * The least time a P1 fleet rotation can take under Azure's documented limits, and which limit
 * sets it: ARM's write and read buckets, Key Vault's creates per vault and per subscription.
 */
import { KEY_VAULT_CREATES_PER_10S, KEY_VAULT_SUBSCRIPTION_MULTIPLE } from '../src/shared/task-queues';

/** Key Vault's create limit for software RSA keys: 20 per vault per fixed 10-second window. */
const KV_CREATES_PER_WINDOW = KEY_VAULT_CREATES_PER_10S.software;
const KV_WINDOW_S = 10;

/** The least time a layout's rotation can take, and which limit sets it. */
export function layoutBound(
  accounts: number,
  keys: number,
  keysPerVault: number,
  readsOk: number,
): { seconds: number; which: string } {
  const bounds = [
    { seconds: Math.max(0, (accounts - 200) / 10), which: 'ARM writes (200 + 10/s)' },
    { seconds: Math.max(0, (readsOk - 250) / 25), which: 'ARM reads (250 + 25/s)' },
    {
      // Creates are counted in fixed windows: the first window takes 20, each later one 20 more.
      seconds: Math.max(0, Math.ceil(Math.min(keys, keysPerVault) / KV_CREATES_PER_WINDOW) - 1) * KV_WINDOW_S,
      which: 'Key Vault creates (20 per vault per 10 s)',
    },
    {
      // Every bench vault is in one subscription and region, whose windows take five vaults' worth.
      seconds:
        Math.max(0, Math.ceil(keys / (KV_CREATES_PER_WINDOW * KEY_VAULT_SUBSCRIPTION_MULTIPLE)) - 1) *
        KV_WINDOW_S,
      which: `Key Vault creates (${KV_CREATES_PER_WINDOW * KEY_VAULT_SUBSCRIPTION_MULTIPLE} per subscription and region per 10 s)`,
    },
  ];
  return bounds.reduce((a, b) => (b.seconds > a.seconds ? b : a));
}
