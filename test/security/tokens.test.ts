import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { workflowIdFor } from '../../src/shared/accounts';
import { ISSUER, SDKS, offlineAuth, startTokenAuthority, type TokenAuthority } from '../bot/channel';
import { printTable, type Row } from '../chaos/support';
import { startSecurityStack, WHO, type SecurityStack } from './stack';

for (const sdk of SDKS) {
  const rows: Row[] = [];

  describe(`token attacks on the bot endpoint (${sdk})`, () => {
    const appId = randomUUID();
    let authority: TokenAuthority;
    let s: SecurityStack;

    before(async () => {
      authority = await startTokenAuthority();
      s = await startSecurityStack({
        sdk,
        bot: {
          appId,
          transportOptions: offlineAuth(appId, authority),
        },
      });
    });
    after(async () => {
      await s?.close();
      await authority?.close();
      printTable(
        `Security: token attacks on /api/messages under ${sdk} (401, nothing started, 0 writes)`,
        rows,
      );
    });

    const claims = (overrides: Record<string, unknown> = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return {
        iss: ISSUER,
        aud: appId,
        serviceurl: s.connector.serviceUrl,
        nbf: now - 60,
        exp: now + 600,
        ...overrides,
      };
    };

    async function attempt(name: string, token: string | undefined, expected: number): Promise<void> {
      const account = s.newAccount();
      const writes = s.local.requestLog.writes().length;
      const { status } = await s.post(
        s.activity(WHO.requester, `a:personal-${randomUUID().slice(0, 8)}`, {
          type: 'message',
          text: `configure ${account.name}`,
        }),
        token,
      );
      const started = await s.client.workflow
        .getHandle(workflowIdFor(account))
        .describe()
        .then(
          () => true,
          () => false,
        );
      const written = s.local.requestLog.writes().length - writes;
      const want = expected === 200 ? 'started' : 'nothing started';
      rows.push({
        case: name,
        expected: `${expected}, ${want}, 0 writes`,
        got: `${status}, ${started ? 'started' : 'nothing started'}, ${written} writes`,
        pass: status === expected && started === (expected === 200) && written === 0,
      });
      assert.equal(status, expected);
      assert.equal(started, expected === 200);
      assert.equal(written, 0);
      if (started) await s.client.workflow.getHandle(workflowIdFor(account)).terminate('token test control');
    }

    test('when Teams sends a correctly signed token, then the command starts a run (the control)', async () => {
      await attempt('valid RS256 token from the channel', authority.sign(claims()), 200);
    });

    const attacks: [string, () => string | undefined][] = [
      ['no token', () => undefined],
      ['a garbage bearer token', () => 'not.a.jwt'],
      ['a forged signature', () => authority.sign(claims(), { key: 'other' })],
      ['a key the channel never published', () => authority.sign(claims(), { kid: randomUUID() })],
      ['an HS256 token', () => authority.sign(claims(), { algorithm: 'HS256' })],
      [
        'an expired token',
        () => authority.sign(claims({ nbf: 1, exp: Math.floor(Date.now() / 1000) - 600 })),
      ],
      ['a token not yet valid', () => authority.sign(claims({ nbf: Math.floor(Date.now() / 1000) + 3600 }))],
      ['a token for another bot', () => authority.sign(claims({ aud: randomUUID() }))],
      ['a token from another issuer', () => authority.sign(claims({ iss: 'https://issuer.invalid' }))],
      [
        'a token for another service URL',
        () => authority.sign(claims({ serviceurl: 'https://smba.invalid/' })),
      ],
    ];
    for (const [name, token] of attacks) {
      test(`when a request carries ${name}, then it gets 401, no run starts and Azure sees no write`, async () => {
        await attempt(name, token(), 401);
      });
    }
  });
}
