/**
 * The runbooks' activities, built once per worker from injected clients and the chat port.
 * Every activity validates its input before calling Azure and classifies what fails.
 */
import type { Config } from '../config';
import type { CmkActivities } from '../shared/activities';
import type { ChatPort } from '../shared/chat';
import type { AzureRequestMetrics } from '../telemetry/azure-metrics';
import { validateGuid } from '../shared/names';
import { grantKeyAccess } from './access';
import type { ArmBucketObserver } from './arm-budget';
import { createAzureClients, type AzureClients } from './azure-clients';
import { createChatActivities } from './chat';
import type { ActivityDeps } from './deps';
import { disableCmk, enableCmk, getEncryption, restoreEncryption } from './encryption';
import { assignIdentity } from './identities';
import { inspect } from './inspect';
import { inspectFleet } from './fleet-plan';
import { inspectKeyPolicy, setKeyRotationPolicy } from './key-policy';
import { enableKeyVersion, setKeyVersion } from './key-versions';
import { ensureKey, setRotationPolicy } from './keys';
import { probeDataAccess } from './probe';
import { createProxyAgent } from './proxy-agent';
import { disableKeyVersion, revokeAccess } from './revocation';
import { keysInUse, makeKeyVersion, rotateKey } from './rotation';
import { DEFAULT_TIMING, runActivity, type ActivityTiming } from './runtime';
import { ensureVault } from './vaults';

export { createAzureClients, type AzureClients, type AzureClientOptions } from './azure-clients';
export { DEFAULT_TIMING, type ActivityTiming } from './runtime';

/** What {@link createActivities} is built from. */
export interface CreateActivitiesDeps {
  azure: AzureClients;
  chat: ChatPort;
  tenantId: string;
  /** The runbook's own object id; read from the `oid` claim of its ARM token when absent. */
  runbookPrincipalId?: string;
  timing?: Partial<ActivityTiming>;
}

/** Every activity of {@link CmkActivities} over the injected clients. */
export function createActivities(deps: CreateActivitiesDeps): CmkActivities {
  const resolved: ActivityDeps = {
    azure: deps.azure,
    chat: deps.chat,
    tenantId: validateGuid(deps.tenantId, 'tenantId'),
    runbookPrincipalId: memo(() =>
      deps.runbookPrincipalId
        ? Promise.resolve(validateGuid(deps.runbookPrincipalId, 'runbookPrincipalId'))
        : principalFromToken(deps.azure),
    ),
    timing: { ...DEFAULT_TIMING, ...deps.timing },
  };
  const wrap =
    <I, O>(fn: (d: ActivityDeps, input: I) => Promise<O>) =>
    (input: I): Promise<O> =>
      runActivity(() => fn(resolved, input));
  return {
    inspect: wrap(inspect),
    inspectFleet: wrap(inspectFleet),
    ensureVault: wrap(ensureVault),
    assignIdentity: wrap(assignIdentity),
    grantKeyAccess: wrap(grantKeyAccess),
    ensureKey: wrap(ensureKey),
    enableCmk: wrap(enableCmk),
    restoreEncryption: wrap(restoreEncryption),
    getEncryption: wrap(getEncryption),
    rotateKey: wrap(rotateKey),
    makeKeyVersion: wrap(makeKeyVersion),
    keysInUse: wrap(keysInUse),
    setRotationPolicy: wrap(setRotationPolicy),
    inspectKeyPolicy: wrap(inspectKeyPolicy),
    setKeyRotationPolicy: wrap(setKeyRotationPolicy),
    revokeAccess: wrap(revokeAccess),
    disableKeyVersion: wrap(disableKeyVersion),
    disableCmk: wrap(disableCmk),
    setKeyVersion: wrap(setKeyVersion),
    enableKeyVersion: wrap(enableKeyVersion),
    probeDataAccess: wrap(probeDataAccess),
    ...createChatActivities(deps.chat),
  };
}

/** The worker's activities: Azure clients from config (DefaultAzureCredential) and the given chat port. */
export async function createActivitiesFromConfig(
  config: Config,
  chat: ChatPort,
  {
    metrics,
    timing,
    armBucketObserver,
  }: {
    metrics?: AzureRequestMetrics;
    timing?: Partial<ActivityTiming>;
    armBucketObserver?: ArmBucketObserver;
  } = {},
): Promise<CmkActivities> {
  const agent = await createProxyAgent(config.azure.proxy);
  return createActivities({
    azure: createAzureClients(config.azure, {
      ...(agent ? { agent } : {}),
      ...(metrics ? { metrics } : {}),
      ...(armBucketObserver ? { armBucketObserver } : {}),
    }),
    chat,
    tenantId: config.azure.tenantId,
    ...(timing ? { timing } : {}),
  });
}

/** The `oid` claim of the runbook's ARM token; the token itself is never kept or logged. */
async function principalFromToken(azure: AzureClients): Promise<string> {
  const token = await azure.credential.getToken(`${azure.armEndpoint}/.default`);
  const payload = token?.token.split('.')[1];
  const claims = payload
    ? (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { oid?: unknown })
    : {};
  return validateGuid(claims.oid, 'runbookPrincipalId (oid claim of the ARM token)');
}

function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= fn().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}
