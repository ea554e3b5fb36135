/**
 * Entra ID's token endpoint for the client-credential flow (what MSAL's ClientSecretCredential
 * sends), plus the discovery documents other authority setups ask for.
 */
import { send, type Ctx, type Env } from '../http';
import { issueToken } from '../tokens';

const TOKEN_LIFETIME_S = 3600;

function aadError(
  ctx: Ctx,
  status: number,
  error: string,
  code: number,
  description: string,
  headers: Record<string, string> = {},
): void {
  ctx.errorCode = error;
  send(
    ctx,
    status,
    {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${crypto.randomUUID()} Timestamp: ${new Date().toISOString()}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
    },
    headers,
  );
}

/**
 * An injected fault (429, 5xx) as Entra's token endpoint answers one: an OAuth 2.0 error body
 * (Microsoft identity platform, "Error response": `error`, `error_description`, `error_codes`),
 * `temporarily_unavailable` ("the server is temporarily too busy to handle the request. Retry the
 * request", in the platform's error table) with AADSTS90033 ("a transient error has occurred.
 * Try again", Entra's error code reference). An ARM-shaped body here made MSAL report a
 * parse failure with no status, which no caller can tell from a network error.
 */
export function entraFault(ctx: Ctx, status: number, message: string, headers: Record<string, string>): void {
  aadError(ctx, status, 'temporarily_unavailable', 90033, message, headers);
}

function openIdConfiguration(tenant: string): Record<string, unknown> {
  const base = `https://login.microsoftonline.com/${tenant}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    issuer: `https://login.microsoftonline.com/${tenant}/v2.0`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    tenant_region_scope: 'NA',
    cloud_instance_name: 'microsoftonline.com',
  };
}

/** The client-credential grant: checks tenant, client, secret and scope, then signs a token. */
function clientCredentials(ctx: Ctx, env: Env, tenant: string): void {
  const tenantId = env.state.data.tenantId;
  const form = new URLSearchParams(ctx.body.toString('utf8'));
  if (![tenantId, 'organizations'].includes(tenant.toLowerCase())) {
    return aadError(ctx, 400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
  }
  if (form.get('grant_type') !== 'client_credentials') {
    return aadError(
      ctx,
      400,
      'unsupported_grant_type',
      70003,
      'The app requested an unsupported grant type.',
    );
  }
  const clientId = form.get('client_id') ?? '';
  const principal = Object.values(env.state.data.principals).find(
    (p) => p.appId?.toLowerCase() === clientId.toLowerCase() && p.clientSecret,
  );
  if (!principal) {
    return aadError(
      ctx,
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`,
    );
  }
  if (form.get('client_secret') !== principal.clientSecret) {
    return aadError(
      ctx,
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
    );
  }
  const scope = (form.get('scope') ?? '').split(' ').find((s) => s.endsWith('/.default'));
  if (!scope)
    return aadError(
      ctx,
      400,
      'invalid_scope',
      1002012,
      'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
    );
  const now = Math.floor(Date.now() / 1000);
  ctx.claims = {
    oid: principal.objectId,
    tid: tenantId,
    appid: principal.appId ?? clientId,
    aud: scope.slice(0, -'/.default'.length),
    iss: `https://sts.windows.net/${tenantId}/`,
    iat: now,
    nbf: now,
    exp: now + TOKEN_LIFETIME_S,
  };
  return send(ctx, 200, {
    token_type: 'Bearer',
    expires_in: TOKEN_LIFETIME_S,
    ext_expires_in: TOKEN_LIFETIME_S,
    access_token: issueToken(ctx.claims, env.tokenKey),
  });
}

/** Answers a request to login.microsoftonline.com. */
export function handleEntra(ctx: Ctx, env: Env): void {
  const tenantId = env.state.data.tenantId;
  const token = /^\/(?<tenant>[^/]+)\/oauth2(?:\/v2\.0)?\/token$/.exec(ctx.path)?.groups;
  if (token && ctx.method === 'POST') {
    ctx.operation = 'token';
    return clientCredentials(ctx, env, token.tenant ?? '');
  }
  const oidc = /^\/(?<tenant>[^/]+)(?:\/v2\.0)?\/\.well-known\/openid-configuration$/.exec(ctx.path)?.groups;
  if (oidc && ctx.method === 'GET') {
    ctx.operation = 'openidConfiguration';
    return send(ctx, 200, openIdConfiguration(oidc.tenant ?? tenantId));
  }
  if (ctx.method === 'GET' && ctx.path === '/common/discovery/instance') {
    ctx.operation = 'instanceDiscovery';
    return send(ctx, 200, {
      tenant_discovery_endpoint: `https://login.microsoftonline.com/${tenantId}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [
        {
          preferred_network: 'login.microsoftonline.com',
          preferred_cache: 'login.windows.net',
          aliases: [
            'login.microsoftonline.com',
            'login.windows.net',
            'login.microsoft.com',
            'sts.windows.net',
          ],
        },
      ],
    });
  }
  ctx.operation = 'unknown';
  return aadError(
    ctx,
    404,
    'invalid_request',
    900561,
    `The endpoint ${ctx.path} is not served by the local Azure.`,
  );
}
