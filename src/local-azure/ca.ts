/**
 * The local Azure's certificate authority: generated once and kept in the data folder, it signs
 * the leaf certificates the local Azure serves, so clients verify TLS exactly as they do against
 * Azure: one wildcard certificate per service domain, as Azure serves (`*.blob.core.windows.net`,
 * `*.vault.azure.net`), and one per fixed host (management.azure.com, login.microsoftonline.com).
 */
import 'reflect-metadata';
import { webcrypto, KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { writeFileAtomic } from './files';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** The CA on disk plus a cache of TLS contexts, one per certificate name. */
export interface CertificateAuthority {
  caPath: string;
  caPem: string;
  /**
   * The TLS context for a hostname, its certificate issued for {@link certificateNameFor} the
   * host; created on first use and cached.
   */
  contextFor(host: string): Promise<SecureContext>;
}

/**
 * Service domains whose hosts are one label per resource (an account, a vault). Azure serves
 * each with one certificate whose SAN is the domain's wildcard: which is why a custom domain on
 * a blob endpoint needs Azure CDN for HTTPS (Microsoft Learn, "Map a custom domain to an Azure
 * Blob Storage endpoint"), and a client verifies any account's or vault's host against it. A
 * wildcard covers exactly one label (RFC 6125 §6.4.3), as it does for Azure.
 */
const WILDCARD_DOMAINS = ['blob.core.windows.net', 'vault.azure.net'];

/** The name a host's certificate is issued for: its service domain's wildcard, or the host itself. */
export function certificateNameFor(host: string): string {
  const name = host.toLowerCase();
  const dot = name.indexOf('.');
  const domain = name.slice(dot + 1);
  return dot > 0 && WILDCARD_DOMAINS.includes(domain) ? `*.${domain}` : name;
}

function pemOfKey(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

async function loadOrCreateCa(
  dataDir: string,
): Promise<{ cert: x509.X509Certificate; key: webcrypto.CryptoKey; pem: string; certPath: string }> {
  mkdirSync(dataDir, { recursive: true });
  const certPath = path.join(dataDir, 'ca.pem');
  const keyPath = path.join(dataDir, 'ca-key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const pem = readFileSync(certPath, 'utf8');
    const cert = new x509.X509Certificate(pem);
    if (cert.notAfter.getTime() > Date.now() + 30 * DAY_MS) {
      const der = x509.PemConverter.decode(readFileSync(keyPath, 'utf8'))[0];
      if (der) {
        const key = await webcrypto.subtle.importKey('pkcs8', der, EC, true, ['sign']);
        return { cert, key, pem, certPath };
      }
    }
  }
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=cmk-runbook local Azure CA',
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 3650 * DAY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const pem = cert.toString('pem');
  writeFileAtomic(keyPath, pemOfKey(keys.privateKey), 0o600);
  writeFileAtomic(certPath, pem);
  return { cert, key: keys.privateKey, pem, certPath };
}

/** Loads the CA from `dataDir` (or creates it there) and returns its leaf certificates' factory. */
export async function createCertificateAuthority(dataDir: string): Promise<CertificateAuthority> {
  const ca = await loadOrCreateCa(dataDir);
  const leafKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const leafKeyPem = pemOfKey(leafKeys.privateKey);
  const contexts = new Map<string, Promise<SecureContext>>();

  async function issue(name: string): Promise<SecureContext> {
    const leaf = await x509.X509CertificateGenerator.create({
      subject: `CN=${name}`,
      issuer: ca.cert.subject,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 365 * DAY_MS),
      signingAlgorithm: SIGNING,
      publicKey: leafKeys.publicKey,
      signingKey: ca.key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }]),
      ],
    });
    return createSecureContext({ key: leafKeyPem, cert: `${leaf.toString('pem')}\n${ca.pem}` });
  }

  return {
    caPath: ca.certPath,
    caPem: ca.pem,
    contextFor(host) {
      const name = certificateNameFor(host);
      const known = contexts.get(name);
      if (known) return known;
      const context = issue(name);
      contexts.set(name, context);
      return context;
    },
  };
}
