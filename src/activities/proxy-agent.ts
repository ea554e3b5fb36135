/**
 * The worker's agent behind a proxy: Azure requests go through the configured HTTPS proxy over
 * tunnels kept open (the SDK's own proxy support opens a tunnel and a TLS session per request),
 * and hosts NO_PROXY names (a private-endpoint vault, say) are reached directly, also kept alive.
 * Both come from the configuration, read once at start-up.
 */
import type { Agent } from 'node:https';
import type { ProxyConfig } from '../config';

/** A keep-alive agent that honours NO_PROXY, or undefined when no proxy is configured. */
export async function createProxyAgent(proxy: ProxyConfig | undefined): Promise<Agent | undefined> {
  if (!proxy) return undefined;
  const { ProxyAgent } = await import('proxy-agent');
  /**
   * Azure is reached over https only. Saying so spares agent-base from working the protocol out
   * of a stack trace (`new Error().stack`, source-mapped where source maps are on) three times
   * per request, a few per cent of the worker's CPU in a fleet rotation.
   */
  class AzureProxyAgent extends ProxyAgent {
    override isSecureEndpoint(): boolean {
      return true;
    }
  }
  return new AzureProxyAgent({
    keepAlive: true,
    getProxyForUrl: (url: string) => (bypassesProxy(new URL(url), proxy.noProxy) ? '' : proxy.url),
  });
}

/** True when a NO_PROXY entry names the URL's host: `*`, the host, a parent domain (`.x` or `x`), optionally with its port. */
export function bypassesProxy(url: URL, noProxy: readonly string[]): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy.some((entry) => {
    if (entry === '*') return true;
    // A bare IPv6 address has colons of its own; a port needs brackets there (`[::1]:80`).
    const bareIpv6 = !entry.startsWith('[') && entry.split(':').length > 2;
    const [, name = '', entryPort] = bareIpv6
      ? [entry, entry]
      : (/^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(entry) ?? []);
    if (entryPort && entryPort !== port) return false;
    const domain = name.replace(/^\*?\./, '');
    return host === domain || host.endsWith(`.${domain}`);
  });
}
