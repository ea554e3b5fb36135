/**
 * Access tokens the local Entra endpoint issues: JWT-shaped, HMAC-signed with a key of this
 * emulator, so a token is valid only if this emulator issued it and it has not expired.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The claims every later request is authorised by. */
export interface TokenClaims {
  oid: string;
  tid: string;
  appid: string;
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
}

const b64 = (v: string | Buffer): string => Buffer.from(v).toString('base64url');

/** Signs claims into a compact JWT (HS256). */
export function issueToken(claims: TokenClaims, key: Buffer): string {
  const head = `${b64(JSON.stringify({ typ: 'JWT', alg: 'HS256' }))}.${b64(JSON.stringify(claims))}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}

/** The claims of a valid, unexpired token from `Authorization: Bearer …`, else undefined. */
export function verifyToken(
  authorization: string | undefined,
  key: Buffer,
  nowSeconds = Date.now() / 1000,
): TokenClaims | undefined {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  const [h, p, s] = token?.split('.') ?? [];
  if (!h || !p || !s) return undefined;
  const expected = createHmac('sha256', key).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as TokenClaims;
    return claims.exp > nowSeconds ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** True when a token's audience is the given resource (with or without a trailing slash). */
export function audienceIs(claims: TokenClaims, resource: string): boolean {
  return claims.aud.replace(/\/+$/, '').toLowerCase() === resource.replace(/\/+$/, '').toLowerCase();
}
