/**
 * `npm start`: the whole product on one machine — the Temporal dev server (persistent, UI on
 * 8233, search attributes registered), the local Azure (seeded, persistent), the worker, the
 * bot and the Microsoft 365 Agents Playground. Reuses a running Temporal; Ctrl-C stops the rest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { createPayloadKey } from '../src/codec/keys';
import { propagationFromEnv, startLocalAzure, type LocalAzure } from '../src/local-azure';
import { onFirstSignal } from '../src/telemetry/process';
import { workerNodeFlags } from '../src/workflow-threads';
import {
  DEMO_APPROVERS,
  DEMO_USERS,
  PLAYGROUND_CONVERSATIONS,
  playgroundServiceUrl,
  writePlaygroundConfig,
} from './demo-users';
import { ensureSigningKey } from './signing-key';
import { startDevServer, type DevServer } from './temporal-dev-server';
import { ensureTemporalCli } from './temporal-toolchain';

const ROOT = path.resolve(__dirname, '..');
const DATA = path.resolve(process.env.CMK_DATA_DIR ?? path.join(ROOT, '.data'));

/** The ports of the local stack; each can be moved with its env key. */
export const PORTS = {
  temporal: Number(process.env.CMK_START_TEMPORAL_PORT ?? 7233),
  temporalUi: Number(process.env.CMK_START_UI_PORT ?? 8233),
  localAzure: Number(process.env.LOCAL_AZURE_PORT ?? 4480),
  bot: Number(process.env.CMK_BOT_PORT ?? 3978),
  playground: Number(process.env.CMK_START_PLAYGROUND_PORT ?? 56150),
  codec: Number(process.env.CMK_START_CODEC_PORT ?? 8089),
  workerMetrics: Number(process.env.CMK_START_WORKER_METRICS_PORT ?? 9464),
  botMetrics: Number(process.env.CMK_START_BOT_METRICS_PORT ?? 9465),
};

const PORT_KEYS: Record<keyof typeof PORTS, string> = {
  temporal: 'CMK_START_TEMPORAL_PORT',
  temporalUi: 'CMK_START_UI_PORT',
  localAzure: 'LOCAL_AZURE_PORT',
  bot: 'CMK_BOT_PORT',
  playground: 'CMK_START_PLAYGROUND_PORT',
  codec: 'CMK_START_CODEC_PORT',
  workerMetrics: 'CMK_START_WORKER_METRICS_PORT',
  botMetrics: 'CMK_START_BOT_METRICS_PORT',
};

/** The local stack's payload key and codec-server token, made once and kept with its data. */
interface LocalSecrets {
  payloadKeys: string;
  codecToken: string;
}

/**
 * Reads (or makes, on the first start) the payload key and the codec server's token. They live in
 * the data folder's keys, next to the bot's signing key and the history they open: a new payload
 * key would leave earlier runs unreadable.
 */
async function localSecrets(): Promise<LocalSecrets> {
  const file = path.join(DATA, 'keys', 'codec-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as LocalSecrets;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const { entry } = await createPayloadKey(`local-${new Date().toISOString().slice(0, 10)}`);
  const secrets = { payloadKeys: entry, codecToken: randomBytes(32).toString('base64url') };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600, flag: 'wx' });
  log('start', `created the payload key and codec token ${path.relative(ROOT, file)}`);
  return secrets;
}

let stream: WriteStream | undefined;

/** One structured stream: JSON lines to .data/logs/stack.jsonl, readable lines to the terminal. */
function log(part: string, line: string): void {
  stream?.write(`${JSON.stringify({ at: new Date().toISOString(), part, line })}\n`);
  process.stdout.write(`\x1b[2m${part.padEnd(10)}\x1b[0m ${line}\n`);
}

async function inUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `${what} did not become ready within ${timeoutMs / 1000}s (see ${path.join(DATA, 'logs')})`,
  );
}

function run(part: string, command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const source of [child.stdout, child.stderr]) {
    if (source) readline.createInterface({ input: source }).on('line', (line) => log(part, line));
  }
  child.once('exit', (code, signal) => log(part, `exited (${signal ?? code})`));
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

/** A running local stack. */
export interface LocalStack {
  urls: {
    chat: string;
    temporalUi: string;
    localAzure: string;
    bot: string;
    codec: string;
    workerMetrics: string;
    botMetrics: string;
  };
  close(): Promise<void>;
}

/** Starts (or reuses) every part and resolves when all are ready. */
export async function startStack(): Promise<LocalStack> {
  mkdirSync(path.join(DATA, 'logs'), { recursive: true });
  mkdirSync(path.join(DATA, 'temporal'), { recursive: true });
  mkdirSync(path.join(DATA, 'playground'), { recursive: true });
  stream = createWriteStream(path.join(DATA, 'logs', 'stack.jsonl'), { flags: 'a' });

  for (const name of [
    'localAzure',
    'bot',
    'playground',
    'temporalUi',
    'codec',
    'workerMetrics',
    'botMetrics',
  ] as const) {
    if (name === 'temporalUi' && (await inUse(PORTS.temporal))) continue;
    if (await inUse(PORTS[name])) {
      throw new Error(
        `Port ${PORTS[name]} (${name}) is already taken. Stop what uses it (e.g. \`lsof -i :${PORTS[name]}\`) ` +
          `or choose another port with ${PORT_KEYS[name]}=<port>.`,
      );
    }
  }

  const secrets = await localSecrets();
  const uiOrigins = [`http://localhost:${PORTS.temporalUi}`, `http://127.0.0.1:${PORTS.temporalUi}`];
  const codecEnv: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_NAMESPACE: 'default',
    CMK_PAYLOAD_KEYS: secrets.payloadKeys,
    CMK_CODEC_SERVER_TOKENS: secrets.codecToken,
    CMK_CODEC_SERVER_PORT: String(PORTS.codec),
    CMK_CODEC_SERVER_HOST: '127.0.0.1',
    CMK_CODEC_CORS_ORIGINS: uiOrigins.join(','),
  };
  const codec = run('codec', process.execPath, ['--import', 'tsx', 'src/codec/server.ts'], codecEnv);
  // The UI sends each request to <endpoint>/decode; the token is the endpoint's first path segment.
  const codecEndpoint = `http://127.0.0.1:${PORTS.codec}/${secrets.codecToken}`;

  let temporal: DevServer | undefined;
  if (await inUse(PORTS.temporal)) {
    log(
      'temporal',
      `reusing the server already listening on 127.0.0.1:${PORTS.temporal}; its UI shows payloads decoded only if it was started with --ui-codec-endpoint`,
    );
  } else {
    const cli = ensureTemporalCli();
    temporal = await startDevServer({
      cli: cli.path,
      port: PORTS.temporal,
      uiPort: PORTS.temporalUi,
      dbFile: path.join(DATA, 'temporal', 'dev.sqlite'),
      logLevel: 'warn',
      startTimeoutMs: 60_000,
      uiCodecEndpoint: codecEndpoint,
    });
    log(
      'temporal',
      `temporal ${cli.version} on 127.0.0.1:${PORTS.temporal}, UI on http://localhost:${PORTS.temporalUi}`,
    );
  }

  const local: LocalAzure = await startLocalAzure({
    port: PORTS.localAzure,
    stateFile: path.join(DATA, 'local-azure', 'state.json'),
    dataDir: path.join(DATA, 'local-azure'),
    // Azure applies access changes in up to 10 minutes; the demo keeps the race visible but
    // short unless LOCAL_AZURE_PROPAGATION=azure asks for Azure's delays.
    ...propagationFromEnv(process.env, { roleAssignmentMs: 5_000, revocationMs: 5_000 }),
    trustedCaFile: process.env.NODE_EXTRA_CA_CERTS,
  });
  log('azure', `local Azure on ${local.proxyUrl} (CA ${path.relative(ROOT, local.caPath)})`);

  const uiUrl = `http://localhost:${PORTS.temporalUi}`;
  // The bot signs every start and decision with a key of this machine's, made on first run; the
  // worker trusts its public half. The chat connector both may talk to is the playground's.
  const signingKey = ensureSigningKey(path.join(DATA, 'keys', 'bot-signing-key.pem'));
  if (signingKey.created)
    log('start', `created the bot's signing key ${path.relative(ROOT, signingKey.file)}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...local.env,
    CMK_BOT_SIGNING_KEY_FILE: signingKey.file,
    CMK_BOT_PUBLIC_KEYS: signingKey.publicKey,
    CMK_TRUSTED_SERVICE_URLS: playgroundServiceUrl(PORTS.playground),
    // Everyone in the demo tenant may ask; approvals still need a demo approver who did not ask.
    CMK_REQUESTERS: process.env.CMK_REQUESTERS ?? '*',
    TEMPORAL_ADDRESS: `127.0.0.1:${PORTS.temporal}`,
    TEMPORAL_NAMESPACE: 'default',
    CMK_TEMPORAL_UI_URL: uiUrl,
    CMK_APPROVERS: DEMO_APPROVERS.map((u) => u.aadObjectId).join(','),
    // One approval per operation, so a single approver in the playground can finish every demo;
    // set CMK_QUORUM_REVOKE=2 (etc.) before npm start to see N-of-M.
    CMK_QUORUM: process.env.CMK_QUORUM ?? '1',
    CMK_APPROVAL_DEADLINE: process.env.CMK_APPROVAL_DEADLINE ?? '24h',
    // Requests asked in the personal chat also reach the approvers in the Key Custodians group chat.
    CMK_APPROVALS_CONVERSATION_ID: PLAYGROUND_CONVERSATIONS.groupChat,
    CMK_APPROVALS_SERVICE_URL: playgroundServiceUrl(PORTS.playground),
    CMK_APPROVALS_CONVERSATION_NAME: 'Key Custodians',
    MicrosoftAppId: '',
    MicrosoftAppPassword: '',
    CMK_BOT_PORT: String(PORTS.bot),
    CMK_BOT_HOST: '127.0.0.1',
    CMK_PAYLOAD_KEYS: secrets.payloadKeys,
  };

  const worker = run('worker', process.execPath, [...workerNodeFlags(), '--import', 'tsx', 'worker.ts'], {
    ...env,
    CMK_METRICS_PORT: String(PORTS.workerMetrics),
  });
  const bot = run('bot', process.execPath, ['--import', 'tsx', 'bot.ts'], {
    ...env,
    CMK_METRICS_PORT: String(PORTS.botMetrics),
  });
  const playgroundConfig = path.join(DATA, 'playground', '.m365agentsplayground.yml');
  writePlaygroundConfig(playgroundConfig);
  const playground = run(
    'playground',
    process.execPath,
    [
      require.resolve('@microsoft/m365agentsplayground/cli.js'),
      'start',
      '--app-endpoint',
      `http://127.0.0.1:${PORTS.bot}/api/messages`,
      '--port',
      String(PORTS.playground),
      '--disable-telemetry',
    ],
    {
      ...process.env,
      TEAMSAPPTESTER_BROWSER: 'none',
      M365_AGENTS_PLAYGROUND_CONFIG_PATH: playgroundConfig,
      M365_AGENTS_PLAYGROUND_LOGFILE: path.join(DATA, 'logs', 'playground.log'),
    },
  );

  const close = async (): Promise<void> => {
    await Promise.all([stop(playground), stop(bot), stop(worker), stop(codec)]);
    await local.close();
    await temporal?.stop();
    stream?.end();
  };

  try {
    const botUrl = `http://127.0.0.1:${PORTS.bot}`;
    await waitFor(
      'the bot',
      async () => (await fetch(`${botUrl}/healthz`).catch(() => undefined))?.ok === true,
    );
    await waitFor('the playground', () => inUse(PORTS.playground));
    await waitFor('the codec server', () => inUse(PORTS.codec));
    await waitFor('the worker', async () => worker.exitCode === null && (await workerPolling(env)), 90_000);
    return {
      urls: {
        chat: `http://localhost:${PORTS.playground}`,
        temporalUi: uiUrl,
        localAzure: local.proxyUrl,
        bot: botUrl,
        codec: `http://127.0.0.1:${PORTS.codec}`,
        workerMetrics: `http://127.0.0.1:${PORTS.workerMetrics}/metrics`,
        botMetrics: `http://127.0.0.1:${PORTS.botMetrics}/metrics`,
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** True once a worker polls the task queue. */
async function workerPolling(env: NodeJS.ProcessEnv): Promise<boolean> {
  const { Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  try {
    const description = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: env.CMK_TASK_QUEUE ?? 'cmk-runbook' },
    });
    return (description.pollers?.length ?? 0) > 0;
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const stack = await startStack();
  const { megan, alex } = DEMO_USERS;
  process.stdout.write(
    [
      '',
      `cmk-runbook is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `  Chat (Teams playground): ${stack.urls.chat}   — you are ${megan.name}, an approver`,
      `  Temporal UI:             ${stack.urls.temporalUi}`,
      `  Local Azure:             ${stack.urls.localAzure}   (npm run azure:local prints its client env)`,
      `  Metrics:                 ${stack.urls.workerMetrics} (worker), ${stack.urls.botMetrics} (bot)`,
      `  Payloads are encrypted in Temporal; the UI reads them through the codec server on ${stack.urls.codec}`,
      '  Try in the chat:',
      '    configure stcontoso',
      '    configure stfinance --vault kv-nopurge --key cmk-finance',
      '    revoke stcontoso',
      `  Approvals: you cannot approve your own request; to see the approval card as an approver,`,
      `  let ${alex.name} ask: npm run demo:request -- "configure stfinance --vault kv-nopurge"`,
      '  Ctrl-C stops everything; runs and Azure state are kept in .data/.',
      '',
    ].join('\n'),
  );
  onFirstSignal(() => {
    log('start', 'stopping…');
    stack.close().then(
      () => {
        log('start', 'stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log('start', `stop failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`npm start failed: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
