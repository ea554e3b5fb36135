import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunResult } from '../../src/shared/runbooks';
import { startTestCodecServer, type TestCodecServer } from '../helpers/codec';
import { temporalCli } from '../helpers/temporal-cli';
import { PEOPLE, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { temporalAddress } from '../chaos/temporal-address';
import { decide, localConfigure, waitForApproval } from '../workflows/support';

/** `temporal workflow show --output json`, as an operator runs it (through a codec server when given). */
async function show(address: string, workflowId: string, codecArgs: string[] = []): Promise<string> {
  const args = ['workflow', 'show', '--workflow-id', workflowId, '--address', address, '--output', 'json'];
  const { status, stdout, output } = await temporalCli(args, { codecArgs });
  assert.equal(status, 0, output);
  return stdout;
}

describe('what the Temporal server stores of a run', () => {
  let s: LocalStack;
  let codecServer: TestCodecServer;
  let address: string;
  before(async () => {
    s = await startLocalStack({ throttling: false });
    address = await temporalAddress();
    codecServer = await startTestCodecServer();
  });
  after(async () => {
    await codecServer?.close();
    await s?.close();
  });

  test('when a configure run is approved and done, then its raw history holds no plan text and no person, and the CLI reads both through the codec server', async () => {
    const account = s.newAccount('sthist');
    const vault = s.vaultName('kv-hist');
    const handle = await s.start(
      'configure',
      localConfigure(account, vault, 'cmk-key', {
        requester: PEOPLE.requester,
        conversation: { id: 'a:conversation-history-test' },
        policy: testPolicy({ alwaysApprove: ['configure'] }),
      }),
    );
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve', { comment: 'approved in the change window' });
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    // Step titles long enough to be the plan's own text (short ones such as "Key" are common words).
    const planText = result.plan!.steps.map((step) => step.title).filter((title) => title.length > 12);
    assert.ok(planText.length >= 3, planText.join(' | '));

    const raw = await show(address, handle.workflowId);
    const secretsOfTheRun = [
      ...planText,
      PEOPLE.requester.aadObjectId,
      PEOPLE.requester.name,
      PEOPLE.alice.aadObjectId,
      PEOPLE.alice.name,
      'approved in the change window',
      'a:conversation-history-test',
      result.message,
    ];
    for (const text of secretsOfTheRun)
      assert.ok(!raw.includes(text), `raw history does not contain ${JSON.stringify(text)}`);
    assert.ok(raw.includes('"encryption-key-id"'), 'payloads name the key that sealed them');
    assert.ok(raw.includes('"RequestedBy"'), 'search attributes stay plain');

    const decoded = await show(address, handle.workflowId, codecServer.cliArgs);
    // The CLI prints payloads as proto JSON (data in base64); decoded ones are json/plain.
    const plain = [...decoded.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)]
      .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
      .join('\n');
    assert.ok(!decoded.includes('"encryption-key-id"'), 'every payload was decoded');
    for (const text of [
      PEOPLE.requester.name,
      PEOPLE.alice.name,
      'approved in the change window',
      planText[0]!,
    ])
      assert.ok(plain.includes(text), `through the codec server the CLI shows ${JSON.stringify(text)}`);
  });
});
