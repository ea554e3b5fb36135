/**
 * Test stand-ins for the Bot Framework side of Teams: an OpenID metadata + JWKS server that
 * signs channel tokens, and a connector that records what the bot sends back to the chat; and
 * the SDKs the bot suites run on, once each.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import type { AuthConfiguration, AuthProvider, Connections } from '@microsoft/agents-hosting';
import type { ChatTransportOptions } from '../../src/bot/transports';
import { BOT_SDKS, type BotSdk } from '../../src/config';

export const ISSUER = 'https://test-issuer.botframework.local';

/**
 * Card text as a person reads it: Teams renders TextBlocks as markdown, so the entities the bot
 * writes to keep `<placeholders>` visible read as the characters they stand for.
 */
export function asRead(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** The SDKs every HTTP-level bot suite runs against, one server per suite and SDK. */
export const SDKS: readonly BotSdk[] = BOT_SDKS;

export { localBot } from '../kit/bot';

/**
 * Serves OpenID metadata (`/openid`, botbuilder's way in) and the JWKS (`/jwks`, and under
 * `<tenant>/discovery/v2.0/keys`, the Agents SDK's way in) and signs tokens with its key, or
 * forges them with another.
 */
export interface TokenAuthority {
  /** Base URL: the Entra authority the Agents SDK derives the key location from. */
  url: string;
  metadataUrl: string;
  sign(
    claims: Record<string, unknown>,
    options?: { key?: 'own' | 'other'; algorithm?: 'RS256' | 'HS256'; kid?: string },
  ): string;
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startTokenAuthority(): Promise<TokenAuthority> {
  const kid = randomUUID();
  const own = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = own.publicKey.export({ format: 'jwk' });
  let base = '';
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/openid') {
      res.end(
        JSON.stringify({
          issuer: ISSUER,
          jwks_uri: `${base}/jwks`,
          id_token_signing_alg_values_supported: ['RS256'],
        }),
      );
    } else if (req.url === '/jwks' || req.url?.endsWith('/discovery/v2.0/keys')) {
      res.end(
        JSON.stringify({
          keys: [{ kty: 'RSA', use: 'sig', kid, n: jwk.n, e: jwk.e, endorsements: ['msteams'] }],
        }),
      );
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  base = await listen(server);
  return {
    url: base,
    metadataUrl: `${base}/openid`,
    sign(claims, options = {}) {
      const keyid = options.kid ?? kid;
      if (options.algorithm === 'HS256') {
        return jwt.sign(claims, 'a-shared-secret-an-attacker-chose', { algorithm: 'HS256', keyid });
      }
      const key: KeyObject = options.key === 'other' ? other.privateKey : own.privateKey;
      return jwt.sign(claims, key, { algorithm: 'RS256', keyid });
    },
    close: () => closeServer(server),
  };
}

/** An activity the bot sent into the chat (POST) or edited (PUT). */
export interface SentActivity {
  method: string;
  path: string;
  /** The conversation the path names, decoded (one SDK encodes it, the other does not). */
  conversationId: string;
  /** The activity the path names (replied to or edited), decoded. */
  activityId?: string;
  authorization?: string;
  body: Record<string, unknown>;
}

/** The connector the bot replies through; records every send/edit, answers with message ids and knows every member. */
export interface RecordingConnector {
  serviceUrl: string;
  sent: SentActivity[];
  /** Answers the next `times` sends with `status` (and Retry-After seconds) instead of accepting them. */
  failNext(status: number, times: number, retryAfterSeconds?: number): void;
  /** Sends refused so far. */
  refused: number;
  /**
   * Who Teams knows in conversations, by Entra object id (display names); `unknown` answers every
   * member lookup 404, as the Agents Playground does for Entra ids.
   */
  members: { unknown: boolean; names: Map<string, string> };
  close(): Promise<void>;
}

export async function startRecordingConnector(): Promise<RecordingConnector> {
  const sent: SentActivity[] = [];
  let n = 0;
  const failures: { status: number; retryAfter?: number }[] = [];
  const state = { refused: 0 };
  const members = { unknown: false, names: new Map<string, string>() };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry: SentActivity = {
        method: req.method ?? '',
        path: req.url ?? '',
        conversationId: decodeURIComponent(/\/v3\/conversations\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? ''),
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
      if (req.headers.authorization) entry.authorization = req.headers.authorization;
      const activityId = /\/activities\/([^/?]+)$/.exec(req.url ?? '')?.[1];
      if (activityId) entry.activityId = decodeURIComponent(activityId);
      res.setHeader('content-type', 'application/json');
      const member = /\/v3\/conversations\/[^/]+\/members\/([^/?]+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && member) {
        const aadObjectId = decodeURIComponent(member[1] ?? '');
        if (members.unknown) {
          res.statusCode = 404;
          res.end(JSON.stringify({ error: { code: 'MemberNotFoundInConversation', message: 'not found' } }));
          return;
        }
        const name = members.names.get(aadObjectId.toLowerCase()) ?? aadObjectId;
        res.end(JSON.stringify({ id: `29:${aadObjectId}`, aadObjectId, name }));
        return;
      }
      const failure = failures.shift();
      if (failure) {
        state.refused++;
        if (failure.retryAfter !== undefined) res.setHeader('retry-after', String(failure.retryAfter));
        res.statusCode = failure.status;
        res.end(JSON.stringify({ error: { code: 'Throttled', message: 'try again' } }));
        return;
      }
      sent.push(entry);
      res.end(JSON.stringify({ id: `activity-${++n}` }));
    });
  });
  const serviceUrl = `${await listen(server)}/`;
  return {
    serviceUrl,
    sent,
    failNext(status, times, retryAfter) {
      for (let i = 0; i < times; i++)
        failures.push(retryAfter === undefined ? { status } : { status, retryAfter });
    },
    get refused() {
      return state.refused;
    },
    members,
    close: () => closeServer(server),
  };
}

/** Like botbuilder's password factory (only our app id is valid), but outbound calls carry a stub token instead of asking Entra. */
class StubCredentialsFactory {
  constructor(private readonly appId: string) {}
  async isValidAppId(appId: string): Promise<boolean> {
    return appId === this.appId;
  }
  async isAuthenticationDisabled(): Promise<boolean> {
    return false;
  }
  async createCredentials() {
    return {
      signRequest: async <R extends { headers: { set(name: string, value: string): void } }>(request: R) => {
        request.headers.set('Authorization', 'Bearer stub-outbound');
        return request;
      },
    };
  }
}

/** The Agents SDK's token providers, all answering with a stub token instead of asking Entra. */
function stubConnections(appId: string): Connections {
  const refuse = async (): Promise<string> => {
    throw new Error('not used by the bot');
  };
  const provider: AuthProvider = {
    getAccessToken: async () => 'stub-outbound',
    getAgenticApplicationToken: refuse,
    getAgenticInstanceToken: refuse,
    getAgenticUserToken: refuse,
    acquireTokenOnBehalfOf: refuse,
  };
  const settings: AuthConfiguration = { clientId: appId };
  return {
    getConnection: () => provider,
    getDefaultConnection: () => provider,
    getTokenProvider: () => provider,
    getTokenProviderFromActivity: () => provider,
    getDefaultConnectionConfiguration: () => settings,
  };
}

/**
 * Outbound calls as a registered bot makes them, with a stub bearer token (`Bearer stub-outbound`)
 * instead of asking Entra: for a worker's chat port, so a connector sees what a real worker sends.
 */
export function stubOutbound(appId: string): ChatTransportOptions {
  return {
    agents: { connections: stubConnections(appId) },
    botbuilder: { credentialsFactory: new StubCredentialsFactory(appId) },
  };
}

/** Bot Framework authentication ON, validated against the local token authority, with a stub outbound token. */
export function offlineAuth(appId: string, authority: TokenAuthority): ChatTransportOptions {
  return {
    agents: {
      auth: { authorityEndpoint: authority.url, issuers: [ISSUER] },
      connections: stubConnections(appId),
    },
    // Every key set, as botbuilder requires once one is given.
    botbuilder: {
      auth: {
        MicrosoftAppId: appId,
        MicrosoftAppPassword: 'unused',
        MicrosoftAppType: 'MultiTenant',
        ToBotFromChannelOpenIdMetadataUrl: authority.metadataUrl,
        ToBotFromChannelTokenIssuer: ISSUER,
        ToBotFromEmulatorOpenIdMetadataUrl: authority.metadataUrl,
        ToChannelFromBotLoginUrl: 'https://login.invalid/botframework.com',
        ToChannelFromBotOAuthScope: 'https://api.botframework.com',
        OAuthUrl: 'https://token.invalid',
        CallerId: 'urn:botframework:azure',
        ValidateAuthority: true,
      },
      credentialsFactory: new StubCredentialsFactory(appId),
    },
  };
}
