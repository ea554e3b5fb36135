/**
 * The one logger of every process: JSON lines (pino) at `CMK_LOG_LEVEL`, with secrets redacted,
 * and an adapter that makes it Temporal's Runtime logger, so SDK, workflow, activity and Core
 * lines come out the same way, each with its workflow id, run id, activity and account.
 */
import type { LogLevel as TemporalLogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import pino, { type DestinationStream, type Logger } from 'pino';

/** Levels `CMK_LOG_LEVEL` accepts. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A pino logger; child loggers carry correlation fields (workflowId, runId, invokeId, account). */
export type CmkLogger = Logger;

/** What is never written: values under these keys, at any of the first levels of a line. */
const SECRET_KEYS = [
  'password',
  'appPassword',
  'MicrosoftAppPassword',
  'secret',
  'clientSecret',
  'AZURE_CLIENT_SECRET',
  'token',
  'tokens',
  'accessToken',
  'access_token',
  'apiKey',
  'authorization',
  'Authorization',
  'cookie',
  // Payload keys (the codec's data keys, as configured or unwrapped) and the codec server's tokens.
  'dataKey',
  'payloadKey',
  'material',
  'CMK_PAYLOAD_KEYS',
  'codecToken',
  'CMK_CODEC_SERVER_TOKENS',
  // The bot's signing key and the proofs it signs (a proof is replayable until it expires).
  'privateKey',
  'signingKey',
  'proof',
  'startProof',
];

/** pino redaction paths for {@link SECRET_KEYS}, on the line and one and two levels down. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/**
 * Secrets inside free text: bearer tokens; JWTs and the bot's proofs (compact JWS); PEM private
 * keys; `sig=`, `key=`… query values; and `CMK_…KEYS=`/`…TOKENS=`/`…SECRET=` settings quoted
 * whole (payload keys, codec tokens). A capture group, when there is one, is kept.
 */
const SECRET_TEXT = [
  /\bBearer\s+[\w.~+/=-]+/gi,
  /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /([?&](?:sig|code|client_secret|access_token|key)=)[^&\s"]+/gi,
  /(\b(?:CMK|AZURE|Microsoft)\w*(?:KEYS|TOKENS?|SECRET|PASSWORD)=)[^\s"]+/g,
];

/** Free text with every secret-like part replaced by `[redacted]`. */
export function scrub(text: string): string {
  return SECRET_TEXT.reduce(
    (out, pattern) =>
      out.replace(
        pattern,
        (_match, prefix: unknown) => `${typeof prefix === 'string' ? prefix : ''}[redacted]`,
      ),
    text,
  );
}

/** Scrubs the strings of a line's fields, nested objects and arrays included (errors' messages too). */
function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = scrubValue(v, depth + 1);
  return out;
}

function scrubValues(fields: Record<string, unknown>): Record<string, unknown> {
  return scrubValue(fields) as Record<string, unknown>;
}

function scrubbedError(error: unknown): unknown {
  // The serializer's object has a prototype of its own: its own fields are copied and scrubbed.
  return error instanceof Error ? scrubValue({ ...pino.stdSerializers.err(error) }) : scrubValue(error);
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** The process: worker, bot, codec-server, … */
  name: string;
  /** Where lines go; stdout by default (tests pass a stream). */
  destination?: DestinationStream;
}

/** A JSON logger for one process. */
export function createLogger(options: LoggerOptions): CmkLogger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => scrubValues(fields),
      },
      hooks: {
        logMethod(args, method) {
          // Messages are scrubbed like fields: an error text may quote a URL with a signature.
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as typeof args;
          method.apply(this, scrubbed);
        },
      },
      // Errors are serialized first, then scrubbed like every other field (messages, stacks, causes).
      serializers: { err: scrubbedError, error: scrubbedError },
    },
    options.destination,
  );
}

/** The storage account a workflow id names (`cmk/<subscription>/<resource group>/<account>`). */
export function accountOfWorkflowId(workflowId: unknown): string | undefined {
  if (typeof workflowId !== 'string') return undefined;
  const match = /^cmk\/[^/]+\/[^/]+\/([^/]+)$/.exec(workflowId);
  return match?.[1];
}

const TEMPORAL_TO_PINO: Record<TemporalLogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Temporal's {@link TemporalLogger} over pino, for `Runtime.install({ logger })`. The SDK attaches
 * workflowId, runId, activityType, taskQueue… to workflow and activity lines; this adds the
 * account the workflow id names, and keeps Core's own fields.
 */
export class TemporalPinoLogger implements TemporalLogger {
  constructor(private readonly logger: CmkLogger) {}

  log(level: TemporalLogLevel, message: string, meta: LogMetadata = {}): void {
    // The task token completes an activity on its own: never written. The run id has one name.
    const {
      sdkComponent,
      taskToken: _token,
      workflowRunId,
      ...rest
    } = meta as LogMetadata & {
      sdkComponent?: string;
      taskToken?: unknown;
      workflowRunId?: unknown;
    };
    const account = accountOfWorkflowId(rest.workflowId);
    const fields: Record<string, unknown> = { ...rest };
    if (workflowRunId !== undefined && fields.runId === undefined) fields.runId = workflowRunId;
    if (sdkComponent) fields.component = `temporal.${String(sdkComponent)}`;
    if (account) fields.account = account;
    this.logger[TEMPORAL_TO_PINO[level]](fields, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** `CMK_LOG_LEVEL` as Temporal's level (the Runtime logger and Core's filter). */
export function temporalLevelOf(level: LogLevel): TemporalLogLevel {
  return level.toUpperCase() as TemporalLogLevel;
}

/** A `(level, message, fields)` callback over the logger, adding the account a `workflowId` field names. */
export function logCallbackOf(
  logger: CmkLogger,
): (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void {
  return (level, message, fields = {}) => {
    const account = accountOfWorkflowId(fields.workflowId);
    logger[level](account ? { ...fields, account } : fields, message);
  };
}
