import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PEOPLE, resultOf, startStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { onTimeSkipping } from '../kit/suite';
import { configureInput, decide } from './support';

describe('approval deadlines (time skipping)', () => {
  const suite = onTimeSkipping((env) => startStack({ env }));

  test('when nobody decides within 24 hours, then the run ends expired, nothing changed, and a late decision is refused', async (t) => {
    if (!suite.env) return t.skip('the time-skipping test server is not installed');
    const account = suite.stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const conv = uniqueId('conv');
    const handle = await suite.stack.start(
      'configure',
      configureInput(account, testPolicy({ deadline: '24h' }), conv),
    );
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'expired');
    assert.match(result.message, /No decision within 24h; nothing was changed/);
    assert.equal(suite.stack.azure.account(account.name).encryption.keySource, 'Microsoft.Storage');
    assert.deepEqual(
      suite.stack.azure.changes.filter((c) => c.includes(account.name)),
      [],
    );
    assert.equal(suite.stack.chat.latestCard(conv)?.approval.state, 'expired');
    await assert.rejects(
      decide(handle, PEOPLE.alice, 'approve', { issuedAtMs: await suite.env.currentTimeMs() }),
    );
  });

  test('when approval comes after 23 hours, then the run still goes ahead', async (t) => {
    if (!suite.env) return t.skip('the time-skipping test server is not installed');
    const account = suite.stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const handle = await suite.stack.start(
      'configure',
      configureInput(account, testPolicy({ deadline: '24h' }), uniqueId('conv')),
    );
    await suite.env.sleep('23h');
    await decide(handle, PEOPLE.bob, 'approve', { issuedAtMs: await suite.env.currentTimeMs() });
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(suite.stack.azure.account(account.name).encryption.keySource, 'Microsoft.Keyvault');
  });
});
