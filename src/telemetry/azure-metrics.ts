/**
 * A pipeline policy on every Azure SDK client of the worker that counts Azure's answers by
 * service and HTTP status, each retry included, so a rising 429 rate shows before runs slow down.
 */
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { CmkMetrics } from './metrics';

/** The Azure service a request URL belongs to, as a metric label. */
export function azureServiceOf(url: string): string {
  const host = new URL(url).hostname.toLowerCase();
  if (host === 'management.azure.com' || host.startsWith('management.')) return 'arm';
  if (host.endsWith('.vault.azure.net') || host.includes('.vault.')) return 'keyvault';
  if (host.includes('.blob.')) return 'storage';
  if (host.startsWith('login.')) return 'entra';
  return 'other';
}

/** Counts every answer (and every failure to get one) in `cmk_azure_requests_total`. */
export function azureResponseMetricsPolicy(metrics: Pick<CmkMetrics, 'azureRequests'>): PipelinePolicy {
  return {
    name: 'cmkAzureResponseMetrics',
    async sendRequest(request, next) {
      const service = azureServiceOf(request.url);
      try {
        const response = await next(request);
        metrics.azureRequests.inc({ service, status: String(response.status) });
        return response;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        metrics.azureRequests.inc({ service, status: status ? String(status) : 'network-error' });
        throw error;
      }
    },
  };
}
