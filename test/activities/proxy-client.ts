/**
 * A worker-like process configured by environment only (HTTPS_PROXY, NO_PROXY read through the config,
 * NODE_EXTRA_CA_CERTS, AZURE_*): it builds the production proxy agent and Azure clients, reads
 * an account three times through the proxy and a NO_PROXY host three times, and prints what it got.
 */
import { get } from 'node:https';
import type { Agent } from 'node:https';
import { ClientSecretCredential } from '@azure/identity';
import { createAzureClients } from '../../src/activities';
import { createProxyAgent } from '../../src/activities/proxy-agent';
import { loadConfig } from '../../src/config';

function fetchText(url: string, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) =>
    get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject),
  );
}

async function main(): Promise<void> {
  const env = process.env;
  // As the worker does: the proxy settings from the configuration, read once.
  const agent = await createProxyAgent(loadConfig(env, ['azure']).azure.proxy);
  if (!agent) throw new Error('no agent although HTTPS_PROXY is set');
  const credential = new ClientSecretCredential(
    env.AZURE_TENANT_ID!,
    env.AZURE_CLIENT_ID!,
    env.AZURE_CLIENT_SECRET!,
    { agent },
  );
  const subscriptionIds = (env.CMK_SUBSCRIPTION_IDS ?? '').split(',');
  const azure = createAzureClients(
    { tenantId: env.AZURE_TENANT_ID!, subscriptionIds, armEndpoint: 'https://management.azure.com' },
    { credential, agent },
  );
  const accounts: string[] = [];
  for (let i = 0; i < 3; i++)
    accounts.push(
      (await azure.storage(subscriptionIds[0]!).storageAccounts.getProperties('rg-storage', 'stcontoso'))
        .name!,
    );
  const direct: string[] = [];
  for (let i = 0; i < 3; i++) direct.push(await fetchText(env.DIRECT_URL!, agent));
  process.stdout.write(JSON.stringify({ accounts, direct }));
  agent.destroy();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
