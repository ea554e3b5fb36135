/**
 * The local Azure: an emulator of Entra's token endpoint, ARM (Key Vault, Storage, role
 * assignments, identities), the Key Vault data plane and a blob probe, reached by the real Azure
 * SDK clients through an HTTPS proxy with its own CA. Start it in-process or via `npm run azure:local`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { Agent } from 'node:https';
import path from 'node:path';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
} from '@azure/core-rest-pipeline';
import { toHttpHeadersLike } from '@azure/core-http-compat';
import type { StoragePipelineOptions } from '@azure/storage-blob';
import type { HttpsProxyAgent } from 'https-proxy-agent' with { 'resolution-mode': 'import' };
import { createAdmin } from './admin';
import { createCertificateAuthority } from './ca';
import { removeStaleTemps, withDirLock, writeFileAtomic } from './files';
import { EmulatedClock, type Clock } from './clock';
import { Faults } from './faults';
import { ARM_LIMITS, ArmLimits, type BucketSpec } from './limits';
import type { StateTiming } from './inputs';
import type { StateData } from './model';
import { startProxy } from './proxy';
import { timingFor, type PropagationProfile, type PropagationProfileName } from './propagation';
import { RequestLog } from './request-log';
import { createRouter } from './router';
import { readSeed, stateFromSeed, upgradeState } from './seed';
import { LocalAzureState } from './state';

export type { Clock } from './clock';
export type { FaultSettings, RouteFault } from './faults';
export { Faults } from './faults';
export type { BucketSpec } from './limits';
export type { RequestLogEntry, RequestLogFilter, ServiceName } from './request-log';
export { RequestLog } from './request-log';
export { LocalAzureState } from './state';
export type { RoleAssignmentInput, StorageAccountInput, VaultInput } from './inputs';
export {
  PROPAGATION_PROFILES,
  propagationFromEnv,
  type PropagationProfile,
  type PropagationProfileName,
} from './propagation';

/** Where the repository's default seed lives. */
export const DEFAULT_SEED_PATH = path.resolve(__dirname, 'seed.json');
/** Where the CA and (standalone) state are kept by default; git-ignored. */
export const DEFAULT_DATA_DIR = path.resolve(__dirname, '../../.data/local-azure');

/** The data folder: `$CMK_DATA_DIR/local-azure` when CMK_DATA_DIR is set (as `npm start` uses it), else {@link DEFAULT_DATA_DIR}. */
export function dataDirFrom(env: NodeJS.ProcessEnv = process.env): string {
  return env.CMK_DATA_DIR ? path.resolve(env.CMK_DATA_DIR, 'local-azure') : DEFAULT_DATA_DIR;
}

/** The public address callers on this machine appear to come from, unless `clientAddress` says otherwise. */
export const DEFAULT_CLIENT_ADDRESS = '203.0.113.10';

/** Options for {@link startLocalAzure}; every one has a default that suits the demo. */
export interface LocalAzureOptions {
  seed?: object | string;
  dataDir?: string;
  stateFile?: string;
  host?: string;
  port?: number;
  /**
   * How long access changes take to apply: `azure` (default; role assignments and revocation
   * 10 minutes), `fast` (tests), or explicit delays. See {@link PROPAGATION_PROFILES}.
   */
  propagation?: PropagationProfileName | Partial<PropagationProfile>;
  /** Overrides the profile's role-assignment delay. */
  roleAssignmentPropagationMs?: number;
  /** Overrides the profile's revocation delay. */
  revocationPropagationMs?: number;
  throttling?: boolean;
  /**
   * The public address Azure sees for callers on this machine, as behind a NAT; firewall IP
   * rules are matched against it. Default 203.0.113.10 (a documentation address, RFC 5737).
   */
  clientAddress?: string;
  /** Bucket sizes for ARM throttling; defaults to Azure's (reads 250 + 25/s, writes and deletes 200 + 10/s each). Tests may shrink them. */
  armLimits?: { reads?: BucketSpec; writes?: BucketSpec; deletes?: BucketSpec };
  /**
   * A CA bundle clients already trust (their NODE_EXTRA_CA_CERTS, as the entry that starts the
   * local Azure read it): `env.NODE_EXTRA_CA_CERTS` then names it with the local CA appended.
   */
  trustedCaFile?: string;
}

/** A running local Azure. */
export interface LocalAzure {
  proxyUrl: string;
  caPath: string;
  caPem: string;
  tenantId: string;
  credentials: { tenantId: string; clientId: string; clientSecret: string };
  subscriptionIds: string[];
  /** An HTTPS proxy agent that trusts the CA: pass it as `agent` to SDK clients and the credential. */
  agent: Agent;
  /** A pipeline HttpClient that sends through `agent`, for clients without an `agent` option (BlobServiceClient's `httpClient`). */
  httpClient: HttpClient;
  /** The same for `@azure/storage-blob`, whose `httpClient` option takes the older request shape. */
  blobHttpClient: NonNullable<StoragePipelineOptions['httpClient']>;
  /** Env for child processes: proxy, CA bundle, no-proxy for loopback, client credentials, subscriptions. */
  env: Record<string, string>;
  state: LocalAzureState;
  requestLog: RequestLog;
  faults: Faults;
  clock: Clock;
  close(): Promise<void>;
}

/** HttpsProxyAgent drops `ca` for the tunnelled leg, so it is added where the TLS socket is made. */
async function createCaProxyAgent(proxyUrl: string, ca: string): Promise<Agent> {
  const { HttpsProxyAgent: Base } = await import('https-proxy-agent');
  class CaProxyAgent extends Base<string> {
    override connect(
      req: Parameters<HttpsProxyAgent<string>['connect']>[0],
      opts: Parameters<HttpsProxyAgent<string>['connect']>[1],
    ): ReturnType<HttpsProxyAgent<string>['connect']> {
      return super.connect(req, Object.assign({}, opts, { ca }));
    }
  }
  return new CaProxyAgent(proxyUrl);
}

function tokenKey(dataDir: string): Buffer {
  const file = path.join(dataDir, 'token-key');
  if (existsSync(file)) return readFileSync(file);
  const key = randomBytes(32);
  writeFileAtomic(file, key, 0o600);
  return key;
}

function caBundle(dataDir: string, caPem: string, existing: string | undefined): string {
  if (!existing || !existsSync(existing)) return path.join(dataDir, 'ca.pem');
  const file = path.join(dataDir, 'ca-bundle.pem');
  writeFileAtomic(file, `${readFileSync(existing, 'utf8').trimEnd()}\n${caPem}`);
  return file;
}

/** Pipeline clients that send through `agent`: one for core-rest-pipeline, one for storage-blob. */
function httpClientsFor(agent: Agent): Pick<LocalAzure, 'httpClient' | 'blobHttpClient'> {
  const inner = createDefaultHttpClient();
  return {
    httpClient: {
      sendRequest: (request) => {
        request.agent = agent;
        return inner.sendRequest(request);
      },
    },
    blobHttpClient: {
      async sendRequest(resource) {
        const request = createPipelineRequest({
          url: resource.url,
          method: resource.method,
          headers: createHttpHeaders(resource.headers.rawHeaders()),
          body: resource.body as string | undefined,
          ...(resource.abortSignal ? { abortSignal: resource.abortSignal } : {}),
          timeout: resource.timeout,
          // Downloads ask for a stream of the body rather than its text.
          ...(resource.streamResponseStatusCodes
            ? { streamResponseStatusCodes: resource.streamResponseStatusCodes }
            : {}),
        });
        request.agent = agent;
        const response = await inner.sendRequest(request);
        return {
          request: resource,
          status: response.status,
          headers: toHttpHeadersLike(response.headers),
          bodyAsText: response.bodyAsText,
          readableStreamBody: response.readableStreamBody,
        };
      },
    },
  };
}

/** The state from the state file when there is one, else from the seed. */
function loadState(options: LocalAzureOptions, clock: EmulatedClock, timing: StateTiming): LocalAzureState {
  const seed = readSeed(options.seed ?? DEFAULT_SEED_PATH);
  if (options.stateFile) removeStaleTemps(path.dirname(options.stateFile));
  const state =
    options.stateFile && existsSync(options.stateFile)
      ? new LocalAzureState(
          JSON.parse(readFileSync(options.stateFile, 'utf8')) as StateData,
          clock,
          timing,
          options.stateFile,
        )
      : stateFromSeed(seed, clock, timing, options.stateFile);
  upgradeState(state, seed);
  state.flush();
  return state;
}

/** Starts the local Azure; resolves when the proxy is listening. */
export async function startLocalAzure(options: LocalAzureOptions = {}): Promise<LocalAzure> {
  const dataDir = options.dataDir ?? dataDirFrom();
  mkdirSync(dataDir, { recursive: true });
  const { ca, key } = await withDirLock(dataDir, async () => {
    removeStaleTemps(dataDir);
    return { ca: await createCertificateAuthority(dataDir), key: tokenKey(dataDir) };
  });
  const clock = new EmulatedClock();
  const state = loadState(options, clock, timingFor(options.propagation, options));
  const faults = new Faults();
  const requestLog = new RequestLog();
  const throttling = options.throttling ?? true;
  const router = createRouter({
    env: {
      state,
      clock,
      tokenKey: key,
      publicAddress: options.clientAddress ?? DEFAULT_CLIENT_ADDRESS,
    },
    faults,
    log: requestLog,
    armLimits: throttling ? new ArmLimits({ ...ARM_LIMITS, ...options.armLimits }) : undefined,
    throttling,
  });
  const admin = createAdmin({ state, faults, log: requestLog, clock });
  const proxy = await startProxy(
    ca,
    { tunnelled: router, direct: admin },
    options.host ?? '127.0.0.1',
    options.port ?? 0,
  );
  const runbook = Object.values(state.data.principals).find((p) => p.clientSecret && p.appId);
  const credentials = {
    tenantId: state.data.tenantId,
    clientId: runbook?.appId ?? '',
    clientSecret: runbook?.clientSecret ?? '',
  };
  const subscriptionIds = Object.values(state.data.subscriptions).map((s) => s.subscriptionId);
  const noProxy = 'localhost,127.0.0.1';
  const agent = await createCaProxyAgent(proxy.url, ca.caPem);
  return {
    proxyUrl: proxy.url,
    caPath: ca.caPath,
    caPem: ca.caPem,
    tenantId: state.data.tenantId,
    credentials,
    subscriptionIds,
    agent,
    ...httpClientsFor(agent),
    env: {
      HTTPS_PROXY: proxy.url,
      NODE_EXTRA_CA_CERTS: caBundle(dataDir, ca.caPem, options.trustedCaFile),
      NO_PROXY: noProxy,
      no_proxy: noProxy,
      AZURE_TENANT_ID: credentials.tenantId,
      AZURE_CLIENT_ID: credentials.clientId,
      AZURE_CLIENT_SECRET: credentials.clientSecret,
      CMK_SUBSCRIPTION_IDS: subscriptionIds.join(','),
    },
    state,
    requestLog,
    faults,
    clock,
    async close() {
      state.flush();
      await new Promise<void>((resolve) => {
        proxy.server.close(() => resolve());
        for (const s of proxy.sockets) s.destroy();
      });
    },
  };
}
