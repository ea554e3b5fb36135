import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clearKeyPairStock,
  createKeyVersion,
  generateKeyPairs,
  stockKeyPairs,
  unwrap,
  wrap,
} from '../../src/local-azure/rsa';

const INPUT = {
  kty: 'RSA',
  keySize: 2048,
  keyOps: ['wrapKey', 'unwrapKey'],
  enabled: true,
  tags: {},
} as const;

test('when key pairs are stocked, then new key versions take each once, work, and then make their own', async () => {
  try {
    const pairs = await generateKeyPairs(2048, 2);
    stockKeyPairs(2048, pairs);
    const versions = [
      await createKeyVersion({ ...INPUT, keyOps: [...INPUT.keyOps], tags: {} }, 0),
      await createKeyVersion({ ...INPUT, keyOps: [...INPUT.keyOps], tags: {} }, 0),
      await createKeyVersion({ ...INPUT, keyOps: [...INPUT.keyOps], tags: {} }, 0),
    ];
    assert.deepEqual(
      versions.slice(0, 2).map((v) => v.n),
      pairs.map((p) => p.n),
    );
    assert.equal(new Set(versions.map((v) => v.n)).size, 3, 'the stock is used up, the third is new');
    assert.equal(new Set(versions.map((v) => v.version)).size, 3);
    for (const v of versions) {
      const secret = Buffer.from('account encryption key');
      assert.deepEqual(unwrap(v, 'RSA-OAEP-256', wrap(v, 'RSA-OAEP-256', secret)), secret);
    }
  } finally {
    clearKeyPairStock();
  }
});
