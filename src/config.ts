/**
 * The one typed configuration of cmk-runbook, read from the environment (and Temporal's
 * envconfig profile) and validated at start-up. Every key is listed in `.env.example`.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { validateGuid, ValidationError } from './shared/names';
import { parseDurationMs } from './shared/duration';
import {
  ANY_MEMBER,
  REQUEST_ENV_SUFFIX,
  REQUEST_OPERATIONS,
  approversFor,
  type ApprovalPolicy,
  type ApprovalRole,
} from './shared/approval';
import {
  TEAMS_SERVICE_URLS,
  conversationRefFor,
  isTrustedServiceUrl,
  type ApprovalsConversation,
} from './shared/chat';
import type { BotPublicKey } from './shared/proof';
import {
  ARM_WRITE_REFILL_PER_SECOND,
  DEFAULT_ARM_WRITES_PER_SECOND,
  DEFAULT_KEY_VAULT_CREATES_PER_SECOND,
  KEY_VAULT_CREATES_PER_10S,
} from './shared/task-queues';
import { DEFAULT_TASK_QUEUE, OPERATION_ENV_SUFFIX, OPERATIONS, type Operation } from './shared/runbooks';
import { loadCodecConfig, type CodecConfig } from './codec/keys';

export type { CodecConfig } from './codec/keys';

/** Start-up configuration is wrong; the message lists every bad or missing key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Configuration is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Runs a worker keeps cached. The SDK's default grows with the heap limit (about 2,300 on a
 * 4 GiB heap) and each cached run holds ~0.33 MiB (P3, 2026-12-01), so thousands of runs waiting
 * for approval would take the worker past its 1 GiB container; evicted runs replay from history
 * when an approval arrives.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 1_000;

/** Temporal connection, task queue and UI link. */
export interface TemporalConfig {
  address: string;
  namespace: string;
  connection: NativeConnectionOptions;
  taskQueue: string;
  /** Base URL of the Temporal UI for links on cards, e.g. http://localhost:8233. */
  uiBaseUrl: string;
  /** Runs the worker keeps in memory between their tasks (the rest replay from history). */
  maxCachedWorkflows: number;
  /**
   * CMK_WORKFLOW_STACK_TRACES: `on` keeps the SDK's per-promise stack traces in the workflow
   * thread (the Temporal UI's "Stack Trace" tab); `off` by default (workflow-threads.cjs).
   */
  workflowStackTraces: 'off' | 'on';
}

/** Azure: which subscriptions the runbooks may act on and where ARM is. */
export interface AzureConfig {
  /** AZURE_TENANT_ID — tenant of the runbook identity and of new vaults. */
  tenantId: string;
  /** CMK_SUBSCRIPTION_IDS — comma-separated subscriptions; account names resolve within them. */
  subscriptionIds: string[];
  /** CMK_ARM_ENDPOINT — ARM base URL (sovereign clouds differ). */
  armEndpoint: string;
  /** HTTPS_PROXY (or https_proxy) and NO_PROXY: how the worker reaches Azure; absent without a proxy. */
  proxy?: ProxyConfig;
  /**
   * CMK_ARM_WRITES_PER_SECOND — the rate Temporal's server holds each subscription's ARM write
   * queue to, across every worker (default 9, a little under ARM's refill of 10/s).
   */
  armWritesPerSecond: number;
  /**
   * CMK_KEY_VAULT_CREATES_PER_SECOND — the rate Temporal's server holds each vault's key creates
   * to, across every worker (default 1.95, under Key Vault's 20 per 10 s; HSM keys at half).
   */
  keyVaultCreatesPerSecond: number;
}

/** The HTTPS proxy Azure calls go through, and the hosts reached directly. */
export interface ProxyConfig {
  /** HTTPS_PROXY — e.g. http://proxy.contoso.com:3128. */
  url: string;
  /** NO_PROXY — host names, `.domain` suffixes, `host:port` or `*`, as curl reads them. */
  noProxy: string[];
}

/** The SDKs the bot and the worker's chat port can run on (`CMK_BOT_SDK`); botbuilder is the default. */
export const BOT_SDKS = ['botbuilder', 'agents'] as const;
export type BotSdk = (typeof BOT_SDKS)[number];

/** The Teams bot's Bot Framework registration and HTTP endpoint. */
export interface BotConfig {
  /** CMK_BOT_SDK — botbuilder (Bot Framework SDK) or agents (Microsoft 365 Agents SDK). */
  sdk: BotSdk;
  /** MicrosoftAppId — empty means local use: no auth, bound to loopback. */
  appId: string;
  appPassword: string;
  appType: 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI';
  appTenantId: string;
  /** CMK_BOT_PORT (default 3978) and CMK_BOT_HOST (default 127.0.0.1 without credentials, 0.0.0.0 with). */
  port: number;
  host: string;
  /**
   * CMK_TRUSTED_SERVICE_URLS — the only Bot Framework connectors the bot answers and the worker
   * sends its token to (default: Teams' documented hosts, {@link TEAMS_SERVICE_URLS}).
   */
  trustedServiceUrls: string[];
  /**
   * CMK_APPROVALS_CONVERSATION_ID (+ CMK_APPROVALS_SERVICE_URL, CMK_APPROVALS_CONVERSATION_NAME) —
   * a channel or group chat the worker also posts every approval request to, @mentioning the
   * approvers; unset, requests go only to the chat they were asked in.
   */
  approvals?: ApprovalsConversation;
}

/** The bot's signing key: only the bot holds it; the worker holds the public half. */
export interface SigningConfig {
  /** CMK_BOT_SIGNING_KEY_FILE — a PKCS#8 PEM Ed25519 private key. */
  privateKey: KeyObject;
  /** Its key id: the RFC 7638 thumbprint of the public key. */
  kid: string;
}

/** The bot public keys the worker accepts proofs from (two while the bot's key is rotated). */
export interface VerifyingConfig {
  /** CMK_BOT_PUBLIC_KEYS — comma-separated raw Ed25519 public keys, base64url. */
  botKeys: BotPublicKey[];
}

/** Logs, metrics and health endpoints, tracing: every process reads these. */
export interface TelemetryConfig {
  /** CMK_LOG_LEVEL: the JSON logger's level, also applied to Temporal's SDK and Core logs. */
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** CMK_METRICS_PORT (default 9464; 0 = any free port): `/metrics`, `/livez`, `/readyz`. */
  metricsPort: number;
  /** CMK_METRICS_HOST (default 127.0.0.1; 0.0.0.0 in a container so Prometheus can scrape). */
  metricsHost: string;
  /** CMK_TRACING: `otlp` exports OpenTelemetry spans to OTEL_EXPORTER_OTLP_ENDPOINT; `off` by default. */
  tracing: 'off' | 'otlp';
  /** OTEL_SERVICE_NAME: the service name on spans; absent, each process names itself (cmk-worker, cmk-bot). */
  serviceName?: string;
}

/** The codec server that lets the Temporal UI and CLI read encrypted payloads. */
export interface CodecServerConfig {
  /** CMK_CODEC_SERVER_PORT (default 8089). */
  port: number;
  /** CMK_CODEC_SERVER_HOST (default 127.0.0.1). */
  host: string;
  /** CMK_CODEC_SERVER_TOKENS: bearer tokens accepted, comma-separated (at least 32 characters each). */
  tokens: string[];
  /** CMK_CODEC_CORS_ORIGINS: browser origins allowed (default: the origin of CMK_TEMPORAL_UI_URL). */
  corsOrigins: string[];
}

/** Everything; each process validates the parts it uses. */
export interface Config {
  temporal: TemporalConfig;
  azure: AzureConfig;
  bot: BotConfig;
  policy: ApprovalPolicy;
  signing: SigningConfig;
  verifying: VerifyingConfig;
  codec: CodecConfig;
  codecServer: CodecServerConfig;
  telemetry: TelemetryConfig;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** Parts a process needs; keys of other parts are not checked. */
export type ConfigPart =
  'temporal' | 'azure' | 'bot' | 'policy' | 'signing' | 'verifying' | 'codec' | 'codecServer';

type Env = Record<string, string | undefined>;

/** Reads and validates the parts a process needs; throws {@link ConfigError} naming every bad key. */
export function loadConfig(
  env: Env = process.env,
  parts: ConfigPart[] = ['temporal', 'azure', 'bot', 'policy'],
): Config {
  const problems: string[] = [];
  const need = new Set(parts);
  const attempt = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (error) {
      problems.push(
        error instanceof ValidationError ? error.message : String((error as Error).message ?? error),
      );
      return fallback;
    }
  };

  const temporal = need.has('temporal') ? attempt(() => loadTemporal(env), undefined) : undefined;
  const azure = need.has('azure') ? attempt(() => loadAzure(env), undefined) : undefined;
  const bot = need.has('bot') ? attempt(() => loadBot(env), undefined) : undefined;
  const policy = need.has('policy') ? loadPolicy(env, problems) : undefined;
  const signing = need.has('signing') ? attempt(() => loadSigning(env), undefined) : undefined;
  const verifying = need.has('verifying') ? attempt(() => loadVerifying(env), undefined) : undefined;
  const codec = need.has('codec') ? attempt(() => loadCodecConfig(env), undefined) : undefined;
  const codecServer = need.has('codecServer') ? attempt(() => loadCodecServer(env), undefined) : undefined;
  const telemetry = attempt(() => loadTelemetry(env), undefined);

  if (problems.length || !telemetry) throw new ConfigError(problems);
  return {
    temporal: temporal ?? placeholder('temporal'),
    azure: azure ?? placeholder('azure'),
    bot: bot ?? placeholder('bot'),
    policy: policy ?? placeholder('policy'),
    signing: signing ?? placeholder('signing'),
    verifying: verifying ?? placeholder('verifying'),
    codec: codec ?? placeholder('codec'),
    codecServer: codecServer ?? placeholder('codecServer'),
    telemetry,
    logLevel: telemetry.logLevel,
  };
}

function port(env: Env, key: string, fallback: number): number {
  const raw = env[key]?.trim() || String(fallback);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new ValidationError(key, 'must be a port number 0–65535', raw);
  return value;
}

function loadTelemetry(env: Env): TelemetryConfig {
  return {
    logLevel: oneOf(env, 'CMK_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    metricsPort: port(env, 'CMK_METRICS_PORT', 9464),
    metricsHost: env.CMK_METRICS_HOST?.trim() || '127.0.0.1',
    tracing: oneOf(env, 'CMK_TRACING', ['off', 'otlp'] as const, 'off'),
    ...(env.OTEL_SERVICE_NAME?.trim() ? { serviceName: env.OTEL_SERVICE_NAME.trim() } : {}),
  };
}

function loadCodecServer(env: Env): CodecServerConfig {
  const tokens = listOf(env.CMK_CODEC_SERVER_TOKENS ?? '', ',');
  if (!tokens.length)
    throw new ValidationError(
      'CMK_CODEC_SERVER_TOKENS',
      'required: the bearer token(s) the Temporal UI and CLI present',
    );
  if (tokens.some((t) => t.length < 32))
    throw new ValidationError('CMK_CODEC_SERVER_TOKENS', 'each token must be at least 32 characters');
  const ui = url(env, 'CMK_TEMPORAL_UI_URL', 'http://localhost:8233');
  const corsOrigins = listOf(env.CMK_CODEC_CORS_ORIGINS?.trim() || new URL(ui).origin, ',');
  for (const origin of corsOrigins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || parsed.origin !== origin)
      throw new ValidationError(
        'CMK_CODEC_CORS_ORIGINS',
        'each entry must be an origin like https://temporal.example.com',
        origin,
      );
  }
  return {
    port: port(env, 'CMK_CODEC_SERVER_PORT', 8089),
    host: env.CMK_CODEC_SERVER_HOST?.trim() || '127.0.0.1',
    tokens,
    corsOrigins,
  };
}

function placeholder<T>(part: string): T {
  return new Proxy(
    {},
    {
      get(_target, key) {
        if (key === 'then') return undefined;
        throw new Error(`config part "${part}" was not loaded by this process (asked for "${String(key)}")`);
      },
    },
  ) as T;
}

function loadTemporal(env: Env): TemporalConfig {
  const overrides = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  let connect;
  try {
    connect = loadClientConnectConfig({ overrideEnvVars: overrides });
  } catch (error) {
    throw new ValidationError(
      'TEMPORAL_ADDRESS/TEMPORAL_PROFILE',
      `the Temporal profile cannot be read: ${(error as Error).message}`,
    );
  }
  const address = connect.connectionOptions.address ?? 'localhost:7233';
  if (!/^[\w.-]+:\d{1,5}$/.test(address) && !/^\[[0-9a-f:]+\]:\d{1,5}$/i.test(address)) {
    throw new ValidationError('TEMPORAL_ADDRESS', 'must be host:port, e.g. localhost:7233', address);
  }
  const taskQueue = (env.CMK_TASK_QUEUE ?? DEFAULT_TASK_QUEUE).trim();
  if (!taskQueue) throw new ValidationError('CMK_TASK_QUEUE', 'must not be empty');
  const uiBaseUrl = url(env, 'CMK_TEMPORAL_UI_URL', 'http://localhost:8233');
  const cached = env.CMK_WORKER_MAX_CACHED_WORKFLOWS?.trim() || String(DEFAULT_MAX_CACHED_WORKFLOWS);
  const maxCachedWorkflows = Number(cached);
  if (!Number.isInteger(maxCachedWorkflows) || maxCachedWorkflows < 2)
    throw new ValidationError('CMK_WORKER_MAX_CACHED_WORKFLOWS', 'a whole number of at least 2', cached);
  return {
    maxCachedWorkflows,
    workflowStackTraces: oneOf(env, 'CMK_WORKFLOW_STACK_TRACES', ['off', 'on'] as const, 'off'),
    address,
    namespace: connect.namespace ?? 'default',
    connection: { ...connect.connectionOptions, address },
    taskQueue,
    uiBaseUrl,
  };
}

function loadAzure(env: Env): AzureConfig {
  const problems: string[] = [];
  let tenantId = '';
  try {
    tenantId = validateGuid(required(env, 'AZURE_TENANT_ID'), 'AZURE_TENANT_ID');
  } catch (error) {
    problems.push((error as Error).message);
  }
  const subscriptionIds: string[] = [];
  const rawSubs = env.CMK_SUBSCRIPTION_IDS?.trim();
  if (!rawSubs)
    problems.push(
      'CMK_SUBSCRIPTION_IDS: required — the subscriptions whose storage accounts runbooks may change, comma-separated',
    );
  for (const id of listOf(rawSubs ?? '', ',')) {
    try {
      subscriptionIds.push(validateGuid(id, 'CMK_SUBSCRIPTION_IDS'));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  let armEndpoint = 'https://management.azure.com';
  try {
    armEndpoint = url(env, 'CMK_ARM_ENDPOINT', armEndpoint).replace(/\/$/, '');
  } catch (error) {
    problems.push((error as Error).message);
  }
  let proxy: ProxyConfig | undefined;
  try {
    proxy = loadProxy(env);
  } catch (error) {
    problems.push((error as Error).message);
  }
  const rawRate = env.CMK_ARM_WRITES_PER_SECOND?.trim() || String(DEFAULT_ARM_WRITES_PER_SECOND);
  const armWritesPerSecond = Number(rawRate);
  if (!(armWritesPerSecond > 0 && armWritesPerSecond <= ARM_WRITE_REFILL_PER_SECOND))
    problems.push(
      `CMK_ARM_WRITES_PER_SECOND: must be a number above 0 and at most ARM's refill of ${ARM_WRITE_REFILL_PER_SECOND} writes/s (got "${rawRate}")`,
    );
  const rawCreates =
    env.CMK_KEY_VAULT_CREATES_PER_SECOND?.trim() || String(DEFAULT_KEY_VAULT_CREATES_PER_SECOND);
  const keyVaultCreatesPerSecond = Number(rawCreates);
  const createLimit = KEY_VAULT_CREATES_PER_10S.software / 10;
  if (!(keyVaultCreatesPerSecond > 0 && keyVaultCreatesPerSecond <= createLimit))
    problems.push(
      `CMK_KEY_VAULT_CREATES_PER_SECOND: must be a number above 0 and at most Key Vault's ${createLimit} creates/s per vault (got "${rawCreates}")`,
    );
  if (problems.length) throw new ValidationError('azure', problems.join('; '));
  return {
    tenantId,
    subscriptionIds,
    armEndpoint,
    ...(proxy ? { proxy } : {}),
    armWritesPerSecond,
    keyVaultCreatesPerSecond,
  };
}

function loadProxy(env: Env): ProxyConfig | undefined {
  const raw = (env.HTTPS_PROXY || env.https_proxy)?.trim();
  if (!raw) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol))
    throw new ValidationError('HTTPS_PROXY', 'an http(s) URL, e.g. http://proxy.contoso.com:3128', raw);
  const noProxy = (env.NO_PROXY || env.no_proxy || '')
    .split(/[\s,]+/)
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  return { url: raw, noProxy };
}

function loadBot(env: Env): BotConfig {
  const sdk = oneOf(env, 'CMK_BOT_SDK', BOT_SDKS, 'botbuilder');
  const appId = env.MicrosoftAppId?.trim() ?? '';
  if (sdk === 'agents' && !appId && env.NODE_ENV?.trim().toLowerCase() === 'production') {
    throw new ValidationError(
      'CMK_BOT_SDK',
      'the Agents SDK refuses to run without MicrosoftAppId when NODE_ENV=production; set MicrosoftAppId, or unset NODE_ENV for local use',
    );
  }
  const appPassword = env.MicrosoftAppPassword ?? '';
  const appType = oneOf(
    env,
    'MicrosoftAppType',
    ['MultiTenant', 'SingleTenant', 'UserAssignedMSI'] as const,
    'SingleTenant',
  );
  const appTenantId = env.MicrosoftAppTenantId?.trim() ?? '';
  if (appId) {
    validateGuid(appId, 'MicrosoftAppId');
    if (appType !== 'UserAssignedMSI' && !appPassword) {
      throw new ValidationError(
        'MicrosoftAppPassword',
        `required when MicrosoftAppId is set and MicrosoftAppType is ${appType}`,
      );
    }
    if (appType !== 'MultiTenant') validateGuid(appTenantId, 'MicrosoftAppTenantId');
  }
  const port = Number(env.CMK_BOT_PORT ?? 3978);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ValidationError('CMK_BOT_PORT', 'must be a port number 0–65535', env.CMK_BOT_PORT);
  const host = env.CMK_BOT_HOST?.trim() || (appId ? '0.0.0.0' : '127.0.0.1');
  if (!appId && !isLoopbackHost(host)) {
    throw new ValidationError(
      'CMK_BOT_HOST',
      'without MicrosoftAppId the bot is unauthenticated and listens on loopback only (127.0.0.1, ::1 or localhost); set MicrosoftAppId and MicrosoftAppPassword to listen on another address',
      host,
    );
  }
  const trustedServiceUrls = loadServiceUrls(env);
  const approvals = loadApprovalsConversation(env, trustedServiceUrls, appId);
  return {
    sdk,
    appId,
    appPassword,
    appType,
    appTenantId,
    port,
    host,
    trustedServiceUrls,
    ...(approvals ? { approvals } : {}),
  };
}

/** The approvals conversation, when configured: an id, the connector it lives behind, a name. */
function loadApprovalsConversation(
  env: Env,
  trustedServiceUrls: string[],
  appId: string,
): ApprovalsConversation | undefined {
  const id = env.CMK_APPROVALS_CONVERSATION_ID?.trim();
  if (!id) return undefined;
  if (/\s/.test(id) || id.length > 512)
    throw new ValidationError(
      'CMK_APPROVALS_CONVERSATION_ID',
      "a Teams conversation id (a channel's or group chat's 19:…@thread… id)",
      id,
    );
  const serviceUrl = env.CMK_APPROVALS_SERVICE_URL?.trim();
  if (!serviceUrl)
    throw new ValidationError(
      'CMK_APPROVALS_SERVICE_URL',
      "required with CMK_APPROVALS_CONVERSATION_ID: the conversation's connector, the serviceUrl its activities carry (e.g. https://smba.trafficmanager.net/emea/)",
    );
  if (!isTrustedServiceUrl(serviceUrl, trustedServiceUrls))
    throw new ValidationError(
      'CMK_APPROVALS_SERVICE_URL',
      'must lie under one of CMK_TRUSTED_SERVICE_URLS',
      serviceUrl,
    );
  const tenant = (env.CMK_APPROVAL_TENANT_ID ?? env.AZURE_TENANT_ID)?.trim().toLowerCase();
  return {
    conversation: conversationRefFor(id, serviceUrl, tenant || undefined, appId ? `28:${appId}` : undefined),
    name: env.CMK_APPROVALS_CONVERSATION_NAME?.trim() || 'the approvals chat',
  };
}

/** True for the addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

function loadServiceUrls(env: Env): string[] {
  const raw = env.CMK_TRUSTED_SERVICE_URLS?.trim();
  if (!raw) return [...TEAMS_SERVICE_URLS];
  const urls = listOf(raw, ',');
  for (const value of urls) {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ValidationError('CMK_TRUSTED_SERVICE_URLS', 'each entry must be a URL', value);
    }
    const local = parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname);
    if (parsed.protocol !== 'https:' && !local)
      throw new ValidationError(
        'CMK_TRUSTED_SERVICE_URLS',
        'each entry must be https (plain http only for a loopback connector such as the local Playground)',
        value,
      );
  }
  return urls;
}

/** RFC 7638 thumbprint of an Ed25519 public key given as its raw base64url `x`: the key's id. */
export function keyIdOf(x: string): string {
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}

function loadSigning(env: Env): SigningConfig {
  const file = required(env, 'CMK_BOT_SIGNING_KEY_FILE');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file));
  } catch (error) {
    throw new ValidationError(
      'CMK_BOT_SIGNING_KEY_FILE',
      `cannot read a private key from ${file} (${(error as Error).message}); generate one with \`openssl genpkey -algorithm ed25519\``,
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new ValidationError(
      'CMK_BOT_SIGNING_KEY_FILE',
      `must be an Ed25519 key, not ${privateKey.asymmetricKeyType}`,
    );
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' });
  return { privateKey, kid: keyIdOf(String(x)) };
}

function loadVerifying(env: Env): VerifyingConfig {
  const raw = required(env, 'CMK_BOT_PUBLIC_KEYS');
  const keys = listOf(raw, ',');
  if (keys.length > 2)
    throw new ValidationError(
      'CMK_BOT_PUBLIC_KEYS',
      'at most two keys: the bot key in use and, while it is rotated, the other one',
    );
  return {
    botKeys: keys.map((x) => {
      if (!/^[A-Za-z0-9_-]{43}$/.test(x))
        throw new ValidationError(
          'CMK_BOT_PUBLIC_KEYS',
          'each key is a raw Ed25519 public key in base64url (43 characters, as `npm run signing-key` prints it)',
          x,
        );
      return { kid: keyIdOf(x), x };
    }),
  };
}

/** The approval policy; every bad key is added to `problems` (in the order the keys are read). */
function loadPolicy(env: Env, problems: string[]): ApprovalPolicy {
  const defaultApprovers = idList(env, 'CMK_APPROVERS', problems) ?? [];
  const defaultQuorum = approverCount(env, 'CMK_QUORUM', problems) ?? 1;
  const defaultRequesters = idList(env, 'CMK_REQUESTERS', problems, { anyMember: true }) ?? [];
  const policy: ApprovalPolicy = {
    approvers: {},
    quorum: {},
    deadline: env.CMK_APPROVAL_DEADLINE?.trim() || '24h',
    requesters: {},
    alwaysApprove: operationList(env, 'CMK_ALWAYS_APPROVE', problems),
    roles: {},
  };
  for (const op of OPERATIONS) {
    const suffix = OPERATION_ENV_SUFFIX[op];
    policy.approvers[op] = idList(env, `CMK_APPROVERS_${suffix}`, problems) ?? defaultApprovers;
    policy.quorum[op] = approverCount(env, `CMK_QUORUM_${suffix}`, problems) ?? defaultQuorum;
    const roles = rolesOf(env, `CMK_ROLES_${suffix}`, problems);
    if (roles.length) policy.roles![op] = roles;
    checkQuorum(policy, op, problems);
  }
  for (const op of REQUEST_OPERATIONS) {
    policy.requesters![op] =
      idList(env, `CMK_REQUESTERS_${REQUEST_ENV_SUFFIX[op]}`, problems, { anyMember: true }) ??
      defaultRequesters;
  }
  if (!policy.alwaysApprove?.length) delete policy.alwaysApprove;
  if (!Object.keys(policy.roles ?? {}).length) delete policy.roles;
  try {
    parseDurationMs(policy.deadline, 'CMK_APPROVAL_DEADLINE');
  } catch (error) {
    problems.push((error as Error).message);
  }
  const tenantId = policyTenant(env, problems);
  if (tenantId) policy.tenantId = tenantId;
  return policy;
}

/**
 * `CMK_APPROVERS=<id>,<id>`: object ids, lower-cased; `*` (every member of the tenant) where
 * `anyMember`. Undefined when the key is unset or empty, so a default applies.
 */
function idList(env: Env, key: string, problems: string[], { anyMember = false } = {}): string[] | undefined {
  const raw = env[key]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const out: string[] = [];
  for (const id of listOf(raw, ',')) {
    if (anyMember && id === ANY_MEMBER) {
      out.push(ANY_MEMBER);
      continue;
    }
    try {
      out.push(validateGuid(id, key).toLowerCase());
    } catch (error) {
      problems.push(
        anyMember
          ? `${(error as Error).message}, or * for every member of the tenant`
          : (error as Error).message,
      );
    }
  }
  return out;
}

/** `CMK_QUORUM=2`: approvals needed, 1 to 10; undefined when unset or wrong (the problem is noted). */
function approverCount(env: Env, key: string, problems: string[]): number | undefined {
  const raw = env[key]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10) {
    problems.push(`${key}: must be a whole number of approvers from 1 to 10 (got ${JSON.stringify(raw)})`);
    return undefined;
  }
  return n;
}

/** An operation's quorum must be reachable by its approvers and cover each of its roles. */
function checkQuorum(policy: ApprovalPolicy, op: Operation, problems: string[]): void {
  const suffix = OPERATION_ENV_SUFFIX[op];
  const approvers = approversFor(policy, op);
  const roles = policy.roles?.[op] ?? [];
  const quorum = policy.quorum[op] ?? 1;
  if (approvers.length > 0 && quorum > approvers.length) {
    problems.push(
      `CMK_QUORUM_${suffix}: ${op} needs ${quorum} approvals but only ${approvers.length} approver(s) are listed`,
    );
  }
  if (roles.length > quorum) {
    problems.push(
      `CMK_QUORUM_${suffix}: each of the ${roles.length} roles in CMK_ROLES_${suffix} must approve, so ${op} needs a quorum of at least ${roles.length} (got ${quorum})`,
    );
  }
}

/** The tenant requesters and approvers belong to: CMK_APPROVAL_TENANT_ID, else AZURE_TENANT_ID. */
function policyTenant(env: Env, problems: string[]): string | undefined {
  const tenantKey = env.CMK_APPROVAL_TENANT_ID?.trim() ? 'CMK_APPROVAL_TENANT_ID' : 'AZURE_TENANT_ID';
  const tenant = env[tenantKey]?.trim();
  if (!tenant) {
    problems.push(
      'CMK_APPROVAL_TENANT_ID: required (or AZURE_TENANT_ID) — the Entra tenant whose users may ask for and approve runs',
    );
    return undefined;
  }
  try {
    return validateGuid(tenant, tenantKey).toLowerCase();
  } catch (error) {
    // AZURE_TENANT_ID is reported by the azure part when that part is loaded.
    if (tenantKey === 'CMK_APPROVAL_TENANT_ID') problems.push((error as Error).message);
    return undefined;
  }
}

/** `CMK_ALWAYS_APPROVE=configure,rotate`: operations that need approval even when nothing is destructive. */
function operationList(env: Env, key: string, problems: string[]): Operation[] {
  const out: Operation[] = [];
  for (const word of listOf(env[key] ?? '', ',')) {
    const op = OPERATIONS.find((o) => o.toLowerCase() === word.toLowerCase());
    if (op) out.push(op);
    else problems.push(`${key}: "${word}" is not an operation; use ${OPERATIONS.join(', ')}`);
  }
  return out;
}

/** `CMK_ROLES_REVOKE=Key Vault=<id>,<id>;Storage=<id>`: each role must contribute an approval. */
function rolesOf(env: Env, key: string, problems: string[]): ApprovalRole[] {
  const roles: ApprovalRole[] = [];
  for (const part of listOf(env[key] ?? '', ';')) {
    const at = part.indexOf('=');
    const name = at > 0 ? part.slice(0, at).trim() : '';
    const members = at > 0 ? listOf(part.slice(at + 1), ',') : [];
    if (!name || members.length === 0) {
      problems.push(`${key}: "${part}" should read Role name=object id,object id (roles separated by ;)`);
      continue;
    }
    const approvers: string[] = [];
    for (const id of members) {
      try {
        approvers.push(validateGuid(id, `${key} (${name})`).toLowerCase());
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    roles.push({ name, approvers });
  }
  return roles;
}

/** The entries of a separated list, trimmed, empty ones left out. */
function listOf(raw: string, separator: string): string[] {
  return raw
    .split(separator)
    .map((entry) => entry.trim())
    .filter(Boolean);
}

function required(env: Env, key: string): string {
  const value = env[key]?.trim();
  if (!value) throw new ValidationError(key, 'required');
  return value;
}

function url(env: Env, key: string, fallback: string): string {
  const value = env[key]?.trim() || fallback;
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new ValidationError(key, 'must be an http(s) URL', value);
  }
  return value.replace(/\/$/, '');
}

function oneOf<T extends string>(env: Env, key: string, allowed: readonly T[], fallback: T): T {
  const value = env[key]?.trim() || fallback;
  if (!allowed.includes(value as T))
    throw new ValidationError(key, `must be one of ${allowed.join(', ')}`, value);
  return value as T;
}

/**
 * Every environment key cmk-runbook reads (directly or through envconfig / DefaultAzureCredential),
 * with its default. `.env.example` documents each; docker-compose may set only these.
 */
export const CONFIG_KEYS: Record<string, { part: ConfigPart | 'runtime'; default?: string; about: string }> =
  {
    TEMPORAL_ADDRESS: { part: 'temporal', default: 'localhost:7233', about: 'Temporal frontend host:port' },
    TEMPORAL_NAMESPACE: { part: 'temporal', default: 'default', about: 'Temporal namespace' },
    TEMPORAL_API_KEY: { part: 'temporal', about: 'Temporal Cloud API key (turns TLS on)' },
    TEMPORAL_TLS: { part: 'temporal', about: 'true to use TLS without an API key' },
    TEMPORAL_TLS_CLIENT_CERT_PATH: { part: 'temporal', about: 'mTLS client certificate (Temporal Cloud)' },
    TEMPORAL_TLS_CLIENT_KEY_PATH: { part: 'temporal', about: 'mTLS client key (Temporal Cloud)' },
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: { part: 'temporal', about: 'CA of a self-hosted server' },
    TEMPORAL_TLS_SERVER_NAME: { part: 'temporal', about: 'TLS server name override' },
    TEMPORAL_PROFILE: { part: 'temporal', default: 'default', about: 'profile in the Temporal config file' },
    TEMPORAL_CONFIG_FILE: { part: 'temporal', about: 'path of temporal.toml (default: the user config dir)' },
    CMK_TASK_QUEUE: { part: 'temporal', default: DEFAULT_TASK_QUEUE, about: 'task queue of worker and bot' },
    CMK_WORKER_MAX_CACHED_WORKFLOWS: {
      part: 'temporal',
      default: String(DEFAULT_MAX_CACHED_WORKFLOWS),
      about: 'runs the worker keeps in memory (~0.4 MiB each); the others replay when they wake',
    },
    CMK_WORKFLOW_STACK_TRACES: {
      part: 'temporal',
      default: 'off',
      about:
        "on keeps a stack trace of every promise in workflow code, for the Temporal UI's Stack Trace tab (a fifth to a quarter of the worker's CPU); read by workflow-threads.cjs",
    },
    CMK_TEMPORAL_UI_URL: {
      part: 'temporal',
      default: 'http://localhost:8233',
      about: 'Temporal UI base URL for links',
    },
    AZURE_TENANT_ID: { part: 'azure', about: 'tenant of the runbook identity and of new vaults' },
    AZURE_CLIENT_ID: {
      part: 'azure',
      about: 'runbook identity (service principal or managed identity client id)',
    },
    AZURE_CLIENT_SECRET: {
      part: 'azure',
      about: 'service principal secret (prefer workload/managed identity)',
    },
    CMK_SUBSCRIPTION_IDS: { part: 'azure', about: 'comma-separated subscriptions runbooks may act on' },
    CMK_ARM_ENDPOINT: { part: 'azure', default: 'https://management.azure.com', about: 'ARM endpoint' },
    CMK_ARM_WRITES_PER_SECOND: {
      part: 'azure',
      default: String(DEFAULT_ARM_WRITES_PER_SECOND),
      about: "rate of each subscription's ARM write queue, enforced by Temporal across all workers",
    },
    CMK_KEY_VAULT_CREATES_PER_SECOND: {
      part: 'azure',
      default: String(DEFAULT_KEY_VAULT_CREATES_PER_SECOND),
      about: "rate of each vault's key creates (HSM keys: half), enforced by Temporal across all workers",
    },
    CMK_BOT_SDK: {
      part: 'bot',
      default: 'botbuilder',
      about:
        'botbuilder (Bot Framework SDK) or agents (Microsoft 365 Agents SDK); the same settings serve both',
    },
    MicrosoftAppId: {
      part: 'bot',
      about: 'Bot registration app id; empty = local use, no auth, loopback only',
    },
    MicrosoftAppPassword: { part: 'bot', about: 'Bot registration secret' },
    MicrosoftAppType: {
      part: 'bot',
      default: 'SingleTenant',
      about: 'SingleTenant, MultiTenant or UserAssignedMSI',
    },
    MicrosoftAppTenantId: { part: 'bot', about: 'tenant of the bot registration' },
    CMK_BOT_PORT: { part: 'bot', default: '3978', about: 'port of /api/messages' },
    CMK_BOT_HOST: {
      part: 'bot',
      about:
        'bind address (default 127.0.0.1 without credentials, 0.0.0.0 with); loopback only without credentials',
    },
    CMK_TRUSTED_SERVICE_URLS: {
      part: 'bot',
      default: TEAMS_SERVICE_URLS.join(','),
      about:
        'Bot Framework connectors the bot answers and the worker sends its token to (comma-separated URL prefixes)',
    },
    CMK_APPROVALS_CONVERSATION_ID: {
      part: 'bot',
      about:
        'worker: a channel or group chat (its Teams conversation id) that every approval request is also posted to, approvers @mentioned',
    },
    CMK_APPROVALS_SERVICE_URL: {
      part: 'bot',
      about:
        "worker: the approvals conversation's connector (the serviceUrl its activities carry); must be trusted",
    },
    CMK_APPROVALS_CONVERSATION_NAME: {
      part: 'bot',
      default: 'the approvals chat',
      about: 'how cards name the approvals conversation, e.g. Key Custodians',
    },
    CMK_BOT_SIGNING_KEY_FILE: {
      part: 'signing',
      about: 'bot only: PKCS#8 PEM Ed25519 private key that signs starts and decisions',
    },
    CMK_BOT_PUBLIC_KEYS: {
      part: 'verifying',
      about: 'worker only: the bot public key(s), base64url, comma-separated; two while rotating',
    },
    CMK_APPROVERS: { part: 'policy', about: 'AAD object ids allowed to approve any operation' },
    CMK_QUORUM: { part: 'policy', default: '1', about: 'approvals needed by default' },
    CMK_APPROVAL_DEADLINE: { part: 'policy', default: '24h', about: 'how long an approval may take' },
    CMK_APPROVAL_TENANT_ID: {
      part: 'policy',
      about: 'tenant requesters and approvers must belong to (default AZURE_TENANT_ID)',
    },
    CMK_REQUESTERS: {
      part: 'policy',
      about:
        'AAD object ids allowed to ask for any operation, or * for every tenant member (default: nobody)',
    },
    CMK_ALWAYS_APPROVE: {
      part: 'policy',
      about: 'operations that need approval even when the plan is not destructive, e.g. configure,rotate',
    },
    ...Object.fromEntries(
      OPERATIONS.flatMap((op) => [
        [
          `CMK_APPROVERS_${OPERATION_ENV_SUFFIX[op]}`,
          { part: 'policy', about: `approvers for ${op} (overrides CMK_APPROVERS)` },
        ],
        [`CMK_QUORUM_${OPERATION_ENV_SUFFIX[op]}`, { part: 'policy', about: `approvals needed for ${op}` }],
        [
          `CMK_ROLES_${OPERATION_ENV_SUFFIX[op]}`,
          { part: 'policy', about: `roles that must each approve ${op}: Name=id,id;Name=id` },
        ],
      ]),
    ),
    ...Object.fromEntries(
      REQUEST_OPERATIONS.map((op) => [
        `CMK_REQUESTERS_${REQUEST_ENV_SUFFIX[op]}`,
        { part: 'policy', about: `who may ask for ${op} (overrides CMK_REQUESTERS)` },
      ]),
    ),
    CMK_PAYLOAD_ENCRYPTION: {
      part: 'codec',
      default: 'on',
      about: 'on: every payload is sealed with AES-256-GCM; off stores them in clear (not for production)',
    },
    CMK_PAYLOAD_KEYS: {
      part: 'codec',
      about:
        'payload keys id:base64, comma-separated; the first seals, all open (rotation); wrapped when a wrapping key is set',
    },
    CMK_PAYLOAD_KEY_WRAPPING_KEY: {
      part: 'codec',
      about: 'Key Vault key id that wrapped CMK_PAYLOAD_KEYS (RSA-OAEP-256); unwrapped at start-up',
    },
    CMK_CODEC_SERVER_PORT: { part: 'codecServer', default: '8089', about: 'port of the codec server' },
    CMK_CODEC_SERVER_HOST: {
      part: 'codecServer',
      default: '127.0.0.1',
      about: 'bind address of the codec server',
    },
    CMK_CODEC_SERVER_TOKENS: {
      part: 'codecServer',
      about: 'bearer tokens the codec server accepts (≥ 32 characters each, comma-separated)',
    },
    CMK_CODEC_CORS_ORIGINS: {
      part: 'codecServer',
      about: 'browser origins allowed to call the codec server (default: the Temporal UI origin)',
    },
    CMK_LOG_LEVEL: { part: 'runtime', default: 'info', about: 'debug, info, warn or error' },
    NODE_ENV: {
      part: 'runtime',
      about: 'production in the container image; the Agents SDK then insists on MicrosoftAppId',
    },
    CMK_METRICS_PORT: {
      part: 'runtime',
      default: '9464',
      about: 'port of /metrics, /livez and /readyz of the worker and the bot (0 = any free port)',
    },
    CMK_METRICS_HOST: {
      part: 'runtime',
      default: '127.0.0.1',
      about: 'bind address of the metrics endpoint',
    },
    CMK_TRACING: {
      part: 'runtime',
      default: 'off',
      about: 'otlp: export OpenTelemetry spans (Temporal and Azure SDK) to OTEL_EXPORTER_OTLP_ENDPOINT',
    },
    OTEL_EXPORTER_OTLP_ENDPOINT: {
      part: 'runtime',
      default: 'http://localhost:4318',
      about: 'OTLP/HTTP collector for CMK_TRACING=otlp',
    },
    OTEL_SERVICE_NAME: { part: 'runtime', about: 'service name on spans (default cmk-worker / cmk-bot)' },
    HTTPS_PROXY: {
      part: 'azure',
      about: 'the proxy Azure calls go through (the local Azure prints its own: npm run azure:local)',
    },
    NODE_EXTRA_CA_CERTS: {
      part: 'runtime',
      about: 'local Azure only: its CA bundle (printed by npm run azure:local)',
    },
    NO_PROXY: {
      part: 'azure',
      default: 'localhost,127.0.0.1',
      about: 'hosts that bypass the proxy (Temporal)',
    },
  };
