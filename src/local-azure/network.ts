/**
 * Firewalls as Key Vault and Storage apply them to their data planes: the caller's source
 * address against IP rules when the default action is Deny, public network access, and the
 * trusted-services bypass Azure Storage uses to reach a firewalled vault
 * (learn.microsoft.com: key-vault/general/network-security, overview-vnet-service-endpoints;
 * storage/common/storage-network-security).
 */
import { isIP } from 'node:net';
import type { NetworkRules } from './model';

/** What a firewall decided for one caller. */
export type NetworkVerdict = 'allowed' | 'firewall' | 'publicAccessDisabled';

/** Reads `networkAcls` as ARM sends it (Key Vault or Storage) into rules, or undefined when absent. */
export function networkRulesOf(raw: unknown): NetworkRules | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as {
    defaultAction?: unknown;
    bypass?: unknown;
    ipRules?: Array<{ value?: unknown }>;
    virtualNetworkRules?: Array<{ id?: unknown }>;
  };
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return {
    defaultAction: text(r.defaultAction).toLowerCase() === 'deny' ? 'Deny' : 'Allow',
    bypass: typeof r.bypass === 'string' ? r.bypass : 'AzureServices',
    ipRules: (Array.isArray(r.ipRules) ? r.ipRules : []).map((x) => text(x?.value)),
    virtualNetworkRules: (Array.isArray(r.virtualNetworkRules) ? r.virtualNetworkRules : []).map((x) =>
      text(x?.id),
    ),
  };
}

function ipv4ToInt(ip: string): number | undefined {
  if (isIP(ip) !== 4) return undefined;
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** True when `ip` is the rule's address or lies in its CIDR range (IPv4, as both services allow). */
export function ipMatches(ip: string, rule: string): boolean {
  const [base = '', bits] = rule.trim().split('/');
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(base);
  if (a === undefined || b === undefined) return false;
  const prefix = bits === undefined ? 32 : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) return false;
  const size = 2 ** (32 - prefix);
  return Math.floor(a / size) === Math.floor(b / size);
}

/** The firewall's verdict for a caller from `clientAddress` that is not a trusted service. */
export function clientVerdict(
  rules: NetworkRules | undefined,
  publicNetworkAccess: string | undefined,
  clientAddress: string,
): NetworkVerdict {
  if ((publicNetworkAccess ?? 'Enabled').toLowerCase() === 'disabled') return 'publicAccessDisabled';
  if (!rules || rules.defaultAction === 'Allow') return 'allowed';
  return rules.ipRules.some((r) => ipMatches(clientAddress, r)) ? 'allowed' : 'firewall';
}

/** True when a trusted Azure service (Azure Storage reaching its key) passes the firewall. */
export function trustedServicePasses(
  rules: NetworkRules | undefined,
  publicNetworkAccess: string | undefined,
): boolean {
  if (rules?.bypass.split(',').some((b) => b.trim().toLowerCase() === 'azureservices')) return true;
  return (publicNetworkAccess ?? 'Enabled').toLowerCase() !== 'disabled' && rules?.defaultAction !== 'Deny';
}

/** True for addresses Azure never sees as a source: loopback, private (RFC 1918), link-local. */
export function isPrivateAddress(ip: string): boolean {
  const v4 = ip.replace(/^::ffff:/i, '');
  if (isIP(v4) === 4)
    return ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16'].some((r) =>
      ipMatches(v4, r),
    );
  return ip === '::1' || /^f[cd]/i.test(ip) || /^fe80:/i.test(ip);
}
