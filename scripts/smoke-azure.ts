/**
 * `npm run smoke:azure [-- --keep] [-- --json <file>]`: the whole CMK lifecycle against a real
 * subscription, in a throwaway resource group that is deleted afterwards (docs/operations.md,
 * "Smoke test on real Azure"). Nothing is defaulted that could pick a subscription: it is named
 * by CMK_SMOKE_SUBSCRIPTION_ID and CMK_SMOKE_LOCATION, the caller is DefaultAzureCredential's.
 * `npm test` runs the same `runSmoke` against the local Azure (test/operations/smoke-azure.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { DefaultAzureCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { revokeConfirmWithinMs } from '../src/shared/duration';
import { temporal } from '../test/kit';
import { runSmoke } from './smoke/lifecycle';
import { smokeSummary } from './smoke/report';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const USAGE = `usage: CMK_SMOKE_SUBSCRIPTION_ID=<subscription id> CMK_SMOKE_LOCATION=<region, e.g. westeurope> npm run smoke:azure [-- --keep] [-- --json <file>]
optional: CMK_SMOKE_CONFIRM_WITHIN (the revoke's confirmation window, default 30m)
credentials: DefaultAzureCredential (az login, AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, a managed identity, …)`;

/** The run's settings from the environment and arguments, or the reasons it cannot start. */
export function readSmokeSettings(
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
):
  | { subscriptionId: string; location: string; confirmWithin: string; keep: boolean; json?: string }
  | { errors: string[] } {
  const errors: string[] = [];
  const subscriptionId = env.CMK_SMOKE_SUBSCRIPTION_ID?.trim() ?? '';
  const location = env.CMK_SMOKE_LOCATION?.trim().toLowerCase() ?? '';
  const confirmWithin = env.CMK_SMOKE_CONFIRM_WITHIN?.trim() || '30m';
  if (!subscriptionId)
    errors.push(
      'CMK_SMOKE_SUBSCRIPTION_ID is not set: name the subscription the throwaway resource group goes in.',
    );
  else if (!GUID.test(subscriptionId))
    errors.push(`CMK_SMOKE_SUBSCRIPTION_ID is not a subscription id: ${subscriptionId}`);
  if (!location) errors.push('CMK_SMOKE_LOCATION is not set: name the Azure region, e.g. westeurope.');
  else if (!/^[a-z0-9]+$/.test(location)) errors.push(`CMK_SMOKE_LOCATION is not a region name: ${location}`);
  try {
    revokeConfirmWithinMs(confirmWithin);
  } catch (error) {
    errors.push(`CMK_SMOKE_CONFIRM_WITHIN: ${(error as Error).message}`);
  }
  const jsonAt = argv.indexOf('--json');
  const json = jsonAt >= 0 ? argv[jsonAt + 1] : undefined;
  if (jsonAt >= 0 && (!json || json.startsWith('--'))) errors.push('--json needs a file name');
  const unknown = argv.filter(
    (a, i) => a.startsWith('--') && a !== '--keep' && a !== '--json' && argv[i - 1] !== '--json',
  );
  if (unknown.length) errors.push(`unknown option ${unknown.join(' ')}`);
  if (errors.length) return { errors };
  return {
    subscriptionId,
    location,
    confirmWithin,
    keep: argv.includes('--keep'),
    ...(json ? { json } : {}),
  };
}

async function main(): Promise<number> {
  const settings = readSmokeSettings(process.env, process.argv.slice(2));
  if ('errors' in settings) {
    process.stderr.write(
      `smoke:azure will not start:\n${settings.errors.map((e) => `- ${e}`).join('\n')}\n\n${USAGE}\n`,
    );
    return 2;
  }
  const credential = new DefaultAzureCredential();
  const token = await credential.getToken('https://management.azure.com/.default');
  const claims = decodeJwt(token.token);
  const tenantId = typeof claims.tid === 'string' ? claims.tid : '';
  const callerObjectId = typeof claims.oid === 'string' ? claims.oid : '';
  if (!GUID.test(tenantId) || !GUID.test(callerObjectId))
    throw new Error('the ARM token of DefaultAzureCredential names no tenant (tid) or object id (oid)');
  const log = (line: string): void => void process.stderr.write(`[smoke] ${line}\n`);
  log(`subscription ${settings.subscriptionId}, tenant ${tenantId}, caller ${callerObjectId}`);
  // Ctrl-C cancels the run in flight and still deletes the resource group; a second Ctrl-C leaves it.
  const interrupted = new AbortController();
  process.once('SIGINT', () => {
    log(
      'interrupted: cancelling the run in flight and deleting the resource group (Ctrl-C again to leave it)',
    );
    interrupted.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const env = await temporal();
  try {
    const startedAt = new Date().toISOString();
    const report = await runSmoke({
      subscriptionId: settings.subscriptionId,
      location: settings.location,
      tenantId,
      callerObjectId,
      credential,
      temporal: env,
      keep: settings.keep,
      signal: interrupted.signal,
      confirmWithin: settings.confirmWithin,
      pollMs: 5_000,
      runTimeoutMs: 90 * 60_000,
      setupTimeoutMs: 20 * 60_000,
      log,
    });
    process.stdout.write(`${smokeSummary(report)}\n`);
    if (settings.json) {
      const finishedAt = new Date().toISOString();
      writeFileSync(
        settings.json,
        `${JSON.stringify({ ...report, location: settings.location, subscriptionId: settings.subscriptionId, startedAt, finishedAt }, null, 2)}\n`,
      );
      log(`wrote ${settings.json}`);
    }
    return report.passed ? 0 : 1;
  } finally {
    await env.teardown();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`smoke:azure failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
