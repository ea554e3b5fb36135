import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startLocalAzure } from '../../src/local-azure';
import { ownDataDir } from '../kit/azure';

/** A data directory holding a stand-in for a CA bundle clients already trust (a corporate proxy's). */
function withTrustedBundle(): { dataDir: string; trusted: string } {
  const dataDir = ownDataDir('ca-bundle');
  mkdirSync(dataDir, { recursive: true });
  const trusted = path.join(dataDir, 'corporate-ca.pem');
  writeFileSync(trusted, '-----BEGIN CERTIFICATE-----\ncorporate\n-----END CERTIFICATE-----\n');
  return { dataDir, trusted };
}

describe('the CA bundle the local Azure hands its clients (Node reads NODE_EXTRA_CA_CERTS once, so one file holds every CA a client trusts)', () => {
  test('when the entry hands on a CA bundle the clients already trust, then NODE_EXTRA_CA_CERTS names a bundle of it and the local CA', async () => {
    const { dataDir, trusted } = withTrustedBundle();
    const local = await startLocalAzure({ dataDir, trustedCaFile: trusted });
    await local.close();
    const bundle = readFileSync(local.env.NODE_EXTRA_CA_CERTS ?? '', 'utf8');
    assert.ok(bundle.startsWith(readFileSync(trusted, 'utf8').trimEnd()), 'the trusted bundle comes first');
    assert.ok(bundle.includes(local.caPem.trim()), 'the local CA is appended');
  });

  test('when no bundle is handed on, then NODE_EXTRA_CA_CERTS names the local CA alone, whatever the starting process has set', async () => {
    const { dataDir, trusted } = withTrustedBundle();
    const before = process.env.NODE_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = trusted;
    try {
      const local = await startLocalAzure({ dataDir });
      await local.close();
      assert.equal(local.env.NODE_EXTRA_CA_CERTS, local.caPath);
    } finally {
      if (before === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = before;
    }
  });
});
