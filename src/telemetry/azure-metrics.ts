/**
 * Counts Azure's answers by service and HTTP status in `cmk_azure_requests_total`, so a rising
 * 429 rate shows before runs slow down. Two forms of one counter: a pipeline policy for the
 * clients built on core-rest-pipeline (ARM, Key Vault: each retry counted), and a request policy
 * factory for storage-blob, whose `Pipeline` is its only supported place for a custom policy.
 */
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { RequestPolicyFactory } from '@azure/storage-blob';
import type { CmkMetrics } from './metrics';

/** The metrics the Azure clients feed. */
export type AzureRequestMetrics = Pick<CmkMetrics, 'azureRequests'>;

/** The Azure service a request URL belongs to, as a metric label. */
export function azureServiceOf(url: string): string {
  const host = new URL(url).hostname.toLowerCase();
  if (host === 'management.azure.com' || host.startsWith('management.')) return 'arm';
  if (host.endsWith('.vault.azure.net') || host.includes('.vault.')) return 'keyvault';
  if (host.includes('.blob.')) return 'storage';
  if (host.startsWith('login.')) return 'entra';
  return 'other';
}

/** Sends a request and counts what came back: a status, or `network-error` when nothing did. */
async function counted<T extends { status: number }>(
  metrics: AzureRequestMetrics,
  url: string,
  send: () => Promise<T>,
): Promise<T> {
  const service = azureServiceOf(url);
  try {
    const response = await send();
    metrics.azureRequests.inc({ service, status: String(response.status) });
    return response;
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    metrics.azureRequests.inc({ service, status: status ? String(status) : 'network-error' });
    throw error;
  }
}

/** For ARM and Key Vault clients, added `perRetry`: every attempt's answer is counted. */
export function azureResponseMetricsPolicy(metrics: AzureRequestMetrics): PipelinePolicy {
  return {
    name: 'cmkAzureResponseMetrics',
    sendRequest: (request, next) => counted(metrics, request.url, () => next(request)),
  };
}

/**
 * For a storage-blob `Pipeline` (`pipeline.factories`). storage-blob builds one core pipeline per
 * `Pipeline` and shares it with every container and blob client derived from it, adding its
 * factories once; `additionalPolicies` in its options would be added again by each derived client
 * (and core-rest-pipeline refuses duplicate policy names on the next request). It runs before
 * storage-blob's own retry policy, so each call is counted once, with its last attempt's status.
 */
export function storageResponseMetricsFactory(metrics: AzureRequestMetrics): RequestPolicyFactory {
  return {
    create: (next) => ({
      sendRequest: (request) => counted(metrics, request.url, () => next.sendRequest(request)),
    }),
  };
}
