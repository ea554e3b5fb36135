import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls, type PeerCertificate } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import { ownDataDir } from '../kit/azure';

/**
 * Through the local Azure's CONNECT proxy, a TLS handshake with `host` as a client does it: SNI
 * and name verification against the local CA (Node rejects a certificate that does not name the host).
 */
function certificateServedFor(local: LocalAzure, host: string): Promise<PeerCertificate> {
  const proxy = new URL(local.proxyUrl);
  return new Promise((resolve, reject) => {
    const socket = connectTcp(Number(proxy.port), proxy.hostname, () => {
      socket.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`);
    });
    socket.on('error', reject);
    socket.once('data', (head: Buffer) => {
      if (!head.toString('latin1').startsWith('HTTP/1.1 200')) {
        socket.destroy();
        reject(new Error(`CONNECT ${host}: ${head.toString('latin1').split('\r\n')[0]}`));
        return;
      }
      const tls = connectTls({ socket, servername: host, ca: local.caPem }, () => {
        const certificate = tls.getPeerCertificate();
        tls.destroy();
        resolve(certificate);
      });
      tls.on('error', reject);
    });
  });
}

describe('the certificates the local Azure serves (Azure serves one wildcard certificate per service domain)', () => {
  let local: LocalAzure;
  before(async () => {
    local = await startLocalAzure({ dataDir: ownDataDir('tls-certificates') });
  });
  after(() => local.close());

  test('when clients reach two accounts and two vaults, then each service domain presents one wildcard certificate that Node verifies for every host in it', async () => {
    const [a, b, v, w] = await Promise.all(
      [
        'stcertone.blob.core.windows.net',
        'stcerttwo.blob.core.windows.net',
        'kv-cert-one.vault.azure.net',
        'kv-cert-two.vault.azure.net',
      ].map((host) => certificateServedFor(local, host)),
    );
    assert.equal(a!.subjectaltname, 'DNS:*.blob.core.windows.net');
    assert.equal(b!.fingerprint256, a!.fingerprint256, 'one certificate for every account');
    assert.equal(v!.subjectaltname, 'DNS:*.vault.azure.net');
    assert.equal(w!.fingerprint256, v!.fingerprint256, 'one certificate for every vault');
  });

  test('when clients reach Resource Manager and Entra ID, then each presents a certificate for its own host only', async () => {
    const arm = await certificateServedFor(local, 'management.azure.com');
    const entra = await certificateServedFor(local, 'login.microsoftonline.com');
    assert.equal(arm.subjectaltname, 'DNS:management.azure.com');
    assert.equal(entra.subjectaltname, 'DNS:login.microsoftonline.com');
  });

  test('when a client names a host two labels under the blob domain, then the proxy refuses the tunnel (a wildcard covers one label, RFC 6125 §6.4.3)', async () => {
    await assert.rejects(certificateServedFor(local, 'x.stcertone.blob.core.windows.net'), /403 Forbidden/);
  });
});
