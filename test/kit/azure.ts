/**
 * The local Azure as every stack starts it: the emulator, a credential for its seeded runbook
 * principal, the production Azure client factory and activities over it, and seeded accounts.
 * No test runner here: bench and scripts use it too.
 */
import { randomUUID } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import {
  createActivities,
  createAzureClients,
  type ActivityTiming,
  type AzureClientOptions,
  type AzureClients,
} from '../../src/activities';
import { startLocalAzure, type LocalAzure, type LocalAzureOptions } from '../../src/local-azure';
import type { AccountRef } from '../../src/shared/accounts';
import type { CmkActivities } from '../../src/shared/activities';
import type { ChatPort } from '../../src/shared/chat';

/** The local Azure's seeded tenant, demo subscription, resource groups and runbook principal (src/local-azure/seed.json). */
export const SEEDED = {
  tenantId: '7c0a5e1d-0b5e-4c1a-9e2f-00000000c0de',
  subscriptionId: '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1',
  storageGroup: 'rg-storage',
  keysGroup: 'rg-keys',
  runbookObjectId: '5d2e8f71-3c4b-4f0a-8e6d-00000000a991',
} as const;

/** Short activity waits so tests stay fast; the code paths are the production ones. */
export const FAST_TIMING: ActivityTiming = {
  grantPollMs: 25,
  grantTimeoutMs: 30_000,
  probePollMs: 25,
  lroPollMs: 10,
  rotationPollMs: 25,
  heartbeatMs: 100,
};

/** The SDK retry tests use: a couple of quick retries, so a fault shows without a long wait. */
export const QUICK_RETRY = { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 200 } as const;

/** A running local Azure with the pieces every stack builds over it. */
export interface KitAzure {
  local: LocalAzure;
  tenantId: string;
  /** The seeded runbook principal's credential, through the emulator's agent. */
  credential: ClientSecretCredential;
  /**
   * The production Azure clients against the emulator (default: the test retry); `options`
   * replaces the retry, adds metrics or turns the ARM budget off.
   */
  clients: (options?: Omit<AzureClientOptions, 'credential' | 'agent'>) => AzureClients;
  /** The real activities over {@link clients} (or the given clients), with `FAST_TIMING` unless told. */
  activities: (deps: {
    chat: ChatPort;
    timing?: Partial<ActivityTiming>;
    azure?: AzureClients;
  }) => CmkActivities;
  /** A new storage account on Microsoft-managed keys in the seeded subscription (state API, no ARM calls). */
  newAccount: (prefix?: string) => AccountRef;
  /** A unique vault name. */
  vaultName: (prefix?: string) => string;
  close(): Promise<void>;
}

/** A short random suffix for names Azure takes in lower case letters and digits. */
export function nameSuffix(length = 8): string {
  return randomUUID().replace(/-/g, '').slice(0, length);
}

/** Wraps a running emulator in a {@link KitAzure}. */
export function kitAzureOf(local: LocalAzure): KitAzure {
  const { tenantId, clientId, clientSecret } = local.credentials;
  const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, { agent: local.agent });
  const clients: KitAzure['clients'] = (options = { retry: QUICK_RETRY }) =>
    createAzureClients(
      { tenantId, subscriptionIds: local.subscriptionIds, armEndpoint: 'https://management.azure.com' },
      { credential, agent: local.agent, ...options },
    );
  return {
    local,
    tenantId,
    credential,
    clients,
    activities: ({ chat, timing, azure }) =>
      createActivities({ azure: azure ?? clients(), chat, tenantId, timing: { ...FAST_TIMING, ...timing } }),
    newAccount: (prefix = 'st') => {
      const ref = {
        subscriptionId: local.subscriptionIds[0] ?? SEEDED.subscriptionId,
        resourceGroup: SEEDED.storageGroup,
        name: `${prefix}${nameSuffix()}`.slice(0, 24),
      };
      local.state.addStorageAccount(ref);
      return ref;
    },
    vaultName: (prefix = 'kv') => `${prefix}-${nameSuffix()}`,
    close: () => local.close(),
  };
}

/** A data directory of its own under `.data/test` (git-ignored): a CA and state no other stack shares. */
export function ownDataDir(name = 'local-azure'): string {
  return `.data/test/${name}-${randomUUID().slice(0, 8)}`;
}

/**
 * A local Azure for runbooks end to end in a suite: no throttling, and role assignments and
 * revocations that propagate in 100 and 50 ms instead of minutes; with a data dir of its own.
 */
export function quickAzure(name?: string): LocalAzureOptions {
  return {
    throttling: false,
    roleAssignmentPropagationMs: 100,
    revocationPropagationMs: 50,
    dataDir: ownDataDir(name),
  };
}

/** Starts the local Azure with the options given (the emulator's defaults otherwise) and wraps it. */
export async function localAzure(options: LocalAzureOptions = {}): Promise<KitAzure> {
  return kitAzureOf(await startLocalAzure(options));
}
