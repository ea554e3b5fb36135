/**
 * `npm run azure:local`: starts the local Azure on a fixed port (LOCAL_AZURE_PORT, default 4480)
 * with a state file in its data folder (`$CMK_DATA_DIR/local-azure`, else `.data/local-azure`),
 * and prints the environment a client process needs to use it. Propagation follows
 * LOCAL_AZURE_PROPAGATION (default `azure`).
 */
import path from 'node:path';
import { dataDirFrom, propagationFromEnv, startLocalAzure } from '../src/local-azure';

async function main(): Promise<void> {
  const started = Date.now();
  const port = Number(process.env.LOCAL_AZURE_PORT ?? 4480);
  const dataDir = dataDirFrom(process.env);
  // LOCAL_AZURE_HOST=0.0.0.0 lets other containers reach it (docker-compose.demo.yml); loopback otherwise.
  const host = process.env.LOCAL_AZURE_HOST?.trim() || '127.0.0.1';
  const local = await startLocalAzure({
    port,
    host,
    dataDir,
    stateFile: path.join(dataDir, 'state.json'),
    ...propagationFromEnv(process.env, 'azure'),
    trustedCaFile: process.env.NODE_EXTRA_CA_CERTS,
  });
  // Ctrl-C saves the state and exits; the handlers are in place before anything is printed.
  const stop = (): void => {
    void local.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const lines = Object.entries(local.env)
    .filter(([k]) => k !== 'AZURE_CLIENT_SECRET')
    .map(([k, v]) => `export ${k}='${v}'`);
  process.stdout.write(
    [
      `Local Azure listening on ${local.proxyUrl} (started in ${Date.now() - started} ms)`,
      `Data folder: ${dataDir}`,
      `CA certificate: ${local.caPath}`,
      `Admin API: ${local.proxyUrl}/admin/requests, /admin/faults, /admin/clock/advance, /admin/state`,
      '',
      'Point a client at it (HTTPS_PROXY and NODE_EXTRA_CA_CERTS are read at process start):',
      ...lines,
      `export AZURE_CLIENT_SECRET='<clientSecret of the runbook principal in src/local-azure/seed.json>'`,
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
