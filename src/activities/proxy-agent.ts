/**
 * The worker's agent behind a proxy: Azure requests go through HTTPS_PROXY over tunnels kept
 * open (the SDK's own proxy support opens a tunnel and a TLS session per request), and hosts
 * NO_PROXY names (a private-endpoint vault, say) are reached directly, also kept alive.
 * `proxy-agent` decides per request from HTTPS_PROXY/NO_PROXY, as curl does.
 */
import type { Agent } from 'node:https';

/** A keep-alive agent that honours NO_PROXY, or undefined when no HTTPS proxy is configured. */
export async function createProxyAgent(env: NodeJS.ProcessEnv): Promise<Agent | undefined> {
  if (!(env.HTTPS_PROXY ?? env.https_proxy)) return undefined;
  const { ProxyAgent } = await import('proxy-agent');
  return new ProxyAgent({ keepAlive: true });
}
