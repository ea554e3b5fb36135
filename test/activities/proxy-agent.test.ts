import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import { createCertificateAuthority } from '../../src/local-azure/ca';
import { bypassesProxy } from '../../src/activities/proxy-agent';
import { loadConfig } from '../../src/config';

const TENANT = '7c0a5e1d-0b5e-4c1a-9e2f-00000000c0de';

const run = promisify(execFile);

describe('the worker behind an HTTPS proxy', () => {
  let local: LocalAzure;
  let proxy: Server;
  let direct: HttpsServer;
  const connects: string[] = [];
  const directSockets = new Set<Socket>();
  let directRequests = 0;
  before(async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'proxy-agent-'));
    local = await startLocalAzure({ dataDir, propagation: 'fast' });
    // A real forward proxy that counts CONNECTs and chains them to the local Azure's proxy.
    const upstream = new URL(local.proxyUrl);
    proxy = createServer();
    proxy.on('connect', (req, socket: Socket, head: Buffer) => {
      connects.push(req.url ?? '');
      const next = connect(Number(upstream.port), upstream.hostname, () => {
        next.write(`CONNECT ${req.url} HTTP/1.1\r\nHost: ${req.url}\r\n\r\n`);
        if (head.length) next.write(head);
        next.pipe(socket);
        socket.pipe(next);
      });
      next.on('error', () => socket.destroy());
      socket.on('error', () => next.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    // A host NO_PROXY names, served directly with a certificate the client trusts.
    const ca = await createCertificateAuthority(dataDir);
    const context = await ca.contextFor('localhost');
    direct = createHttpsServer({ SNICallback: (_name, cb) => cb(null, context) }, (_req, res) => {
      directRequests += 1;
      res.end('direct');
    });
    direct.on('secureConnection', (s: Socket) => directSockets.add(s));
    await new Promise<void>((r) => direct.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    proxy.close();
    direct.close();
    for (const s of directSockets) s.destroy();
    await local.close();
  });

  test('when HTTPS_PROXY and NO_PROXY are set, then Azure calls share one kept-alive tunnel and a NO_PROXY host is reached directly over one kept-alive connection', async () => {
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'proxy-client.ts')],
      {
        cwd: path.resolve(__dirname, '../..'),
        env: {
          ...process.env,
          ...local.env,
          HTTPS_PROXY: proxyUrl,
          https_proxy: '',
          NO_PROXY: 'localhost,127.0.0.1',
          no_proxy: '',
          DIRECT_URL: `https://localhost:${(direct.address() as AddressInfo).port}/`,
        },
      },
    );
    const seen = JSON.parse(stdout) as { accounts: string[]; direct: string[] };
    assert.deepEqual(seen.accounts, ['stcontoso', 'stcontoso', 'stcontoso']);
    assert.deepEqual(seen.direct, ['direct', 'direct', 'direct']);
    assert.equal(
      connects.filter((c) => c === 'management.azure.com:443').length,
      1,
      'one tunnel for three ARM reads',
    );
    assert.deepEqual(
      connects.filter((c) => c.startsWith('localhost')),
      [],
      'the NO_PROXY host never went through the proxy',
    );
    assert.deepEqual(
      [directRequests, directSockets.size],
      [3, 1],
      'three requests over one direct connection',
    );
  });
});

describe('which hosts NO_PROXY sends around the proxy (as curl reads it)', () => {
  const cases: [string, string[], boolean][] = [
    ['https://kv-contoso.vault.azure.net/keys/k', ['*'], true],
    ['https://localhost:8443/', ['localhost', '127.0.0.1'], true],
    ['https://kv-contoso.privatelink.vaultcore.azure.net/', ['.privatelink.vaultcore.azure.net'], true],
    ['https://kv-contoso.privatelink.vaultcore.azure.net/', ['privatelink.vaultcore.azure.net'], true],
    ['https://management.azure.com/', ['azure.com:8443'], false],
    ['https://management.azure.com/', ['azure.com:443'], true],
    ['https://notazure.com/', ['azure.com'], false],
    ['https://management.azure.com/', [], false],
    ['https://[::1]:9000/', ['::1'], true],
  ];
  for (const [url, noProxy, bypass] of cases) {
    test(`when NO_PROXY is "${noProxy.join(',')}", then ${url} ${bypass ? 'is reached directly' : 'goes through the proxy'}`, () => {
      assert.equal(bypassesProxy(new URL(url), noProxy), bypass);
    });
  }
  test('when HTTPS_PROXY is not a URL, then the configuration names it and refuses to start', () => {
    assert.throws(
      () =>
        loadConfig({ AZURE_TENANT_ID: TENANT, CMK_SUBSCRIPTION_IDS: TENANT, HTTPS_PROXY: 'proxy:3128' }, [
          'azure',
        ]),
      /HTTPS_PROXY/,
    );
  });
  test('when HTTPS_PROXY and NO_PROXY are set, then the configuration carries both, read once', () => {
    const { proxy } = loadConfig(
      {
        AZURE_TENANT_ID: TENANT,
        CMK_SUBSCRIPTION_IDS: TENANT,
        HTTPS_PROXY: 'http://p:3128',
        NO_PROXY: 'Localhost, .corp',
      },
      ['azure'],
    ).azure;
    assert.deepEqual(proxy, { url: 'http://p:3128', noProxy: ['localhost', '.corp'] });
  });
});
