/**
 * Resource groups through plain ARM requests (no management package for them is installed):
 * the SDK's own pipeline — bearer token for ARM, retries, the given agent — over the REST API,
 * api-version 2021-04-01. Delete is a long-running operation: ARM answers 202 with a `Location`
 * that answers 202 until the group and everything in it are gone, then 200.
 */
import type { Agent } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import {
  RestError,
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';

const API_VERSION = '2021-04-01';
const ARM = 'https://management.azure.com';

/** A resource group as ARM returns it. */
export interface ResourceGroupView {
  id: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
  properties?: { provisioningState?: string };
}

/** Create, read and delete resource groups of one subscription. */
export interface ResourceGroupsClient {
  createOrUpdate(
    name: string,
    group: { location: string; tags?: Record<string, string> },
  ): Promise<ResourceGroupView>;
  /** Check Existence (HEAD): true on 204, false on 404. */
  exists(name: string): Promise<boolean>;
  /** The group, or undefined when ARM answers 404. */
  get(name: string): Promise<ResourceGroupView | undefined>;
  /** Deletes the group and waits until ARM says it and its resources are gone. */
  deleteAndWait(name: string, options?: { pollIntervalMs?: number; abortAfterMs?: number }): Promise<void>;
}

/** A client over `credential` (and `agent`, e.g. the local Azure's) for `subscriptionId`. */
export function createResourceGroupsClient(
  credential: TokenCredential,
  subscriptionId: string,
  options: { agent?: Agent } = {},
): ResourceGroupsClient {
  const pipeline = createPipelineFromOptions({
    ...(options.agent ? { agent: options.agent } : {}),
    retryOptions: { maxRetries: 3 },
    userAgentOptions: { userAgentPrefix: 'cmk-runbook-smoke' },
  });
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: `${ARM}/.default` }));
  const http = createDefaultHttpClient();
  const groupUrl = (name: string) =>
    `${ARM}/subscriptions/${subscriptionId}/resourcegroups/${encodeURIComponent(name)}?api-version=${API_VERSION}`;
  const send = async (method: 'GET' | 'HEAD' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const request = createPipelineRequest({
      url,
      method,
      headers: createHttpHeaders({ 'content-type': 'application/json', accept: 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return pipeline.sendRequest(http, request);
  };
  return {
    async createOrUpdate(name, group) {
      return parse<ResourceGroupView>(await send('PUT', groupUrl(name), group), [200, 201]);
    },
    async exists(name) {
      const response = await send('HEAD', groupUrl(name));
      if (response.status === 404) return false;
      parse(response, [204]);
      return true;
    },
    async get(name) {
      const response = await send('GET', groupUrl(name));
      return response.status === 404 ? undefined : parse<ResourceGroupView>(response, [200]);
    },
    async deleteAndWait(name, { pollIntervalMs = 10_000, abortAfterMs = 60 * 60_000 } = {}) {
      let response = await send('DELETE', groupUrl(name));
      parse(response, [200, 202]);
      const deadline = Date.now() + abortAfterMs;
      while (response.status === 202) {
        const location = response.headers.get('location');
        if (!location) throw new Error(`ARM accepted the delete of ${name} but gave no Location to follow`);
        if (Date.now() > deadline)
          throw new Error(`the delete of ${name} did not finish within ${abortAfterMs / 60_000} minutes`);
        const retryAfterS = Number(response.headers.get('retry-after'));
        await new Promise((resolve) =>
          setTimeout(
            resolve,
            Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : pollIntervalMs,
          ),
        );
        response = await send('GET', location);
        parse(response, [200, 202, 204]);
      }
    },
  };
}

/** The body of an expected answer; anything else is a RestError with ARM's code and message. */
function parse<T>(response: PipelineResponse, expected: number[]): T {
  const body = response.bodyAsText ? (JSON.parse(response.bodyAsText) as unknown) : undefined;
  if (expected.includes(response.status)) return body as T;
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  throw new RestError(error?.message ?? `ARM answered ${response.status}`, {
    ...(error?.code ? { code: error.code } : {}),
    statusCode: response.status,
    request: response.request,
    response,
  });
}
