/**
 * The Azure SDK clients the activities use, built once per worker from config with the
 * production pipeline: ARM requests are paced to the subscription's token buckets.
 */
import type { Agent } from 'node:https';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { StorageManagementClient } from '@azure/arm-storage';
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';
import { BlobServiceClient, newPipeline, type StoragePipelineOptions } from '@azure/storage-blob';
import type { AzureConfig } from '../config';
import {
  azureResponseMetricsPolicy,
  storageResponseMetricsFactory,
  type AzureRequestMetrics,
} from '../telemetry/azure-metrics';
import { ARM_LIMITS, ArmBudget, type ArmBucketObserver } from './arm-budget';
import { noBlindRetryPolicy } from './no-blind-retry';

/** SDK retry tuning (the SDK honours Retry-After on 429/503 itself before Temporal retries). */
export interface AzureRetryOptions {
  maxRetries?: number;
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
}

/** Options for {@link createAzureClients}; all configuration, none of it changes the pipeline. */
export interface AzureClientOptions {
  /** Defaults to `DefaultAzureCredential`. */
  credential?: TokenCredential;
  /** HTTP agent for every client (e.g. a corporate proxy). */
  agent?: Agent;
  retry?: AzureRetryOptions;
  /**
   * Paces ARM requests to the subscription's token buckets (default: ARM's documented limits);
   * `false` sends them unpaced and leaves 429s to the SDK's retries.
   */
  armBudget?: ArmBudget | false;
  /** Told what the default budget believes a bucket holds each time ARM answers (the write queue's rate). */
  armBucketObserver?: ArmBucketObserver;
  /**
   * Counts every client's answers in `cmk_azure_requests_total`: each attempt of ARM and Key Vault
   * calls, and each blob data-plane call with its last attempt's status.
   */
  metrics?: AzureRequestMetrics;
}

/** Clients cached per subscription, vault and account; created on first use. */
export interface AzureClients {
  readonly tenantId: string;
  readonly armEndpoint: string;
  /** Subscriptions the runbooks may act on; vaults are looked up in them by name. */
  readonly subscriptionIds: readonly string[];
  readonly credential: TokenCredential;
  storage(subscriptionId: string): StorageManagementClient;
  keyVault(subscriptionId: string): KeyVaultManagementClient;
  authorization(subscriptionId: string): AuthorizationManagementClient;
  msi(subscriptionId: string): ManagedServiceIdentityClient;
  /** Data-plane key client for `https://<vault>.vault.azure.net/`. */
  keys(vaultUri: string): KeyClient;
  /** Blob service client for an account's blob endpoint (the data-plane probe). */
  blob(blobEndpoint: string): BlobServiceClient;
}

/** Builds the client factory once; every client shares the credential, agent and retry options. */
export function createAzureClients(
  azure: Omit<AzureConfig, 'armWritesPerSecond' | 'keyVaultCreatesPerSecond'>,
  options: AzureClientOptions = {},
): AzureClients {
  const credential = options.credential ?? new DefaultAzureCredential();
  const budget =
    options.armBudget ?? new ArmBudget(ARM_LIMITS, undefined, undefined, options.armBucketObserver);
  const extra = options.metrics
    ? [{ policy: azureResponseMetricsPolicy(options.metrics), position: 'perRetry' as const }]
    : [];
  const common = {
    endpoint: azure.armEndpoint,
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.retry ? { retryOptions: options.retry } : {}),
    additionalPolicies: [
      ...(budget ? [{ policy: budget.policy(), position: 'perRetry' as const }] : []),
      ...extra,
    ],
  };
  // storage-blob forwards unknown pipeline options to core-rest-pipeline, whose agent policy reads `agent`.
  const blobOptions: StoragePipelineOptions & { agent?: Agent } = {
    ...(options.agent ? { agent: options.agent } : {}),
    retryOptions: { maxTries: 1 + (options.retry?.maxRetries ?? 2) },
  };
  // Per subscription the clients are few (the configured subscriptions). Per vault and per
  // account they are as many as the runs touch: each holds its own pipeline and HTTP agent, so
  // those are kept for the most recently used only (a long-lived worker probing 10,000 accounts
  // otherwise kept 10,000 blob clients).
  const cached = <T>(make: (key: string) => T, most = Infinity): ((key: string) => T) => {
    const cache = new Map<string, T>();
    return (key: string) => {
      const normalised = key.toLowerCase();
      const client = cache.get(normalised) ?? make(normalised);
      cache.delete(normalised);
      cache.set(normalised, client);
      if (cache.size > most) cache.delete(cache.keys().next().value as string);
      return client;
    };
  };
  return {
    tenantId: azure.tenantId,
    armEndpoint: azure.armEndpoint,
    subscriptionIds: azure.subscriptionIds,
    credential,
    storage: cached((s) => new StorageManagementClient(credential, s, common)),
    keyVault: cached((s) => new KeyVaultManagementClient(credential, s, common)),
    authorization: cached((s) => new AuthorizationManagementClient(credential, s, common)),
    msi: cached((s) => new ManagedServiceIdentityClient(credential, s, common)),
    keys: cached(
      (uri) =>
        new KeyClient(uri, credential, {
          ...(options.agent ? { agent: options.agent } : {}),
          ...(options.retry ? { retryOptions: options.retry } : {}),
          additionalPolicies: [...extra, { policy: noBlindRetryPolicy(), position: 'perRetry' as const }],
        }),
      CLIENTS_KEPT.vaults,
    ),
    blob: cached((endpoint) => {
      // Custom policies go into storage-blob's Pipeline, which every derived client shares.
      const pipeline = newPipeline(credential, blobOptions);
      if (options.metrics) pipeline.factories.push(storageResponseMetricsFactory(options.metrics));
      return new BlobServiceClient(endpoint, pipeline);
    }, CLIENTS_KEPT.accounts),
  };
}

/** How many Key Vault clients (one per vault) and blob clients (one per account) are kept for reuse. */
export const CLIENTS_KEPT = { vaults: 256, accounts: 256 } as const;
