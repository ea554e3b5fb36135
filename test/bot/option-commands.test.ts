import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import type { Person } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { statusQuery } from '../../src/shared/approval';
import { keyWorkflowId } from '../../src/shared/start';
import { clientsFor } from '../local-azure/clients';
import { cmkAccountOn, createCmkVault } from '../local-azure/fixtures';
import { startSecurityStack, textOf, WHO } from '../security/stack';
import { SDKS, type SentActivity } from './channel';
import { beforeAll } from '../kit/suite';

interface ArmAccount {
  tags?: Record<string, string>;
  properties: { encryption: { keyvaultproperties?: { keyversion?: string } } };
}

async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

for (const sdk of SDKS) {
  describe(`the option surface through the bot endpoint (${sdk})`, () => {
    const s = beforeAll(() => startSecurityStack({ sdk }));

    /** One personal chat: say things, read and click what the bot sent there. */
    function chat() {
      const id = `a:personal-${randomUUID().slice(0, 8)}`;
      const sent = (): SentActivity[] => s.connector.sent.filter((x) => x.conversationId === id);
      const cardOf = (a: SentActivity | undefined) =>
        (a?.body.attachments as { content: Record<string, unknown> }[] | undefined)?.[0]?.content;
      return {
        sent,
        cardOf,
        /** Says `text`; returns what the bot answered right away, as read. */
        async say(text: string, from: Person = WHO.requester): Promise<string> {
          const before = sent().length;
          const { status } = await s.post(s.activity(from, id, { type: 'message', text }));
          assert.equal(status, 200);
          return sent()
            .slice(before)
            .map((x) => textOf(x.body))
            .join('\n');
        },
        /** The first card whose text matches, with its message id. */
        async card(pattern: RegExp): Promise<{ messageId: string; card: Record<string, unknown> }> {
          const posted = await eventually(`a card showing ${pattern}`, () =>
            sent().find((x) => pattern.test(textOf(cardOf(x)))),
          );
          const messageId =
            posted.method === 'PUT' ? posted.activityId! : `activity-${s.connector.sent.indexOf(posted) + 1}`;
          return { messageId, card: cardOf(posted)! };
        },
        /** Clicks a button as `who`; returns the clicker's card as read. */
        async click(who: Person, verb: string, messageId: string, data: unknown): Promise<string> {
          const response = await s.post(
            s.activity(who, id, {
              type: 'invoke',
              name: 'adaptiveCard/action',
              replyToId: messageId,
              value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
            }),
          );
          assert.equal(response.status, 200);
          return textOf((response.body as { value: unknown }).value);
        },
        /** The latest version of a posted card (edits included), as read. */
        latest(messageId: string): string {
          const versions = sent().filter(
            (x) => x.activityId === messageId || `activity-${s.connector.sent.indexOf(x) + 1}` === messageId,
          );
          return textOf(cardOf(versions.at(-1)));
        },
      };
    }

    const refreshData = (card: Record<string, unknown>) =>
      (card.actions as { verb?: string; data?: unknown }[]).find((a) => a.verb === 'refresh')!.data;
    const arm = (a: AccountRef) =>
      s.local.state.getStorageAccount(a.subscriptionId, a.resourceGroup, a.name) as unknown as ArmAccount;
    const result = (workflowId: string) =>
      s.client.workflow.getHandle(workflowId).result() as Promise<RunResult>;

    test('when plan revoke --disable-key is typed, then the plan card shows the steps and who else is affected, marked as a plan only, and nothing starts, locks or writes', async () => {
      const account = s.newAccount();
      await cmkAccountOn(s.local, account.name);
      const c = chat();
      const writes = s.local.requestLog.writes().length;
      const reply = await c.say(`plan revoke ${account.name} --disable-key`);
      assert.match(reply, /Revoke key access · /);
      assert.match(reply, /Plan only · not started/);
      assert.match(reply, /Disable key version kv-/);
      assert.match(reply, /Also affected: no other account or encryption scope/);
      assert.match(reply, /Running it needs 2 approval\(s\) for Revoke key access/);
      assert.match(reply, new RegExp(`To run revoke key access, type: revoke ${account.name} --disable-key`));
      assert.equal(s.local.requestLog.writes().length, writes, 'zero Azure writes');
      await assert.rejects(s.client.workflow.getHandle(workflowIdFor(account)).describe(), {
        name: 'WorkflowNotFoundError',
      });
    });

    /** Runs the account's current run to its end, approving as Alice when its card asks. */
    const approvedRun = async (c: ReturnType<typeof chat>, account: AccountRef): Promise<RunResult> => {
      const handle = s.client.workflow.getHandle(workflowIdFor(account));
      const asked = await eventually('the run asks or ends', () =>
        handle.query(statusQuery).then(
          (st) => (st.result ? 'ended' : st.approval.state === 'pending' ? 'asked' : undefined),
          () => undefined,
        ),
      );
      if (asked === 'asked') {
        const { messageId, card } = await c.card(/Waiting for approval/);
        await c.click(WHO.alice, 'approve', messageId, refreshData(card));
      }
      return (await handle.result()) as RunResult;
    };

    test('when configure names the vault resource group and change-key later moves the pinned account, then the vault is made in that group, the account stays pinned on the new key, and --versionless lets it follow rotation', async () => {
      const account = s.newAccount();
      const vault = `kv-g${randomUUID().replace(/-/g, '').slice(0, 10)}`;
      const c = chat();
      await c.say(`configure ${account.name} --vault ${vault} --vault-resource-group rg-keys --pin-version`);
      const configured = await approvedRun(c, account);
      assert.equal(configured.outcome, 'succeeded', configured.message);
      assert.ok(s.local.state.getVault(account.subscriptionId, 'rg-keys', vault), 'the vault is in rg-keys');
      assert.equal(
        s.local.state.getVault(account.subscriptionId, account.resourceGroup, vault),
        undefined,
        "not in the account's group",
      );
      const first = arm(account).properties.encryption.keyvaultproperties?.keyversion;
      assert.match(first ?? '', /^[0-9a-f]{32}$/, 'pinned');

      const next = (await clientsFor(s.local).keys(vault).createRsaKey('cmk-next', { keySize: 3072 }))
        .properties.version!;
      const moved = chat();
      await moved.say(`change-key ${account.name} --vault ${vault} --key cmk-next`);
      const changed = await approvedRun(moved, account);
      assert.equal(changed.outcome, 'succeeded', changed.message);
      const kv = () =>
        arm(account).properties.encryption.keyvaultproperties as { keyname?: string; keyversion?: string };
      assert.equal(kv().keyname, 'cmk-next');
      assert.equal(kv().keyversion, next, "still pinned, now to the new key's version");

      const follow = chat();
      await follow.say(`change-key ${account.name} --vault ${vault} --key cmk-next --versionless`);
      const unpinned = await approvedRun(follow, account);
      assert.equal(unpinned.outcome, 'succeeded', unpinned.message);
      assert.equal(kv().keyversion ?? '', '', 'versionless: follows rotation');
    });

    test('when configure names an older version by its key URI, then the account is pinned to exactly that version, not the newest', async () => {
      const account = s.newAccount();
      const vault = `kv-u${randomUUID().replace(/-/g, '').slice(0, 10)}`;
      const { key } = await createCmkVault(s.local, vault, 'cmk');
      const older = key.properties.version!;
      await clientsFor(s.local).keys(vault).createRsaKey('cmk', { keySize: 2048 });
      const c = chat();
      await c.say(`configure ${account.name} --key-uri https://${vault}.vault.azure.net/keys/cmk/${older}`);
      const done = await approvedRun(c, account);
      assert.equal(done.outcome, 'succeeded', done.message);
      const kv = arm(account).properties.encryption.keyvaultproperties as {
        keyname?: string;
        keyversion?: string;
      };
      assert.equal(kv.keyname, 'cmk');
      assert.equal(kv.keyversion, older);
    });

    test('when change-key names a version the key does not have, a disabled version, a size the key is not or an HSM key in a standard vault, then each run ends blocked with its own sentence on its card and Azure sees no write', async () => {
      const account = s.newAccount();
      const { vaultName } = await cmkAccountOn(s.local, account.name);
      const keys = clientsFor(s.local).keys(vaultName);
      const older = (await keys.createRsaKey('other', { keySize: 2048 })).properties.version!;
      await keys.createRsaKey('other', { keySize: 2048 });
      await keys.updateKeyProperties('other', older, { enabled: false });
      const uri = `https://${vaultName}.vault.azure.net/keys/other`;
      const cases: [string, RegExp][] = [
        [`--key-uri ${uri}/${'f'.repeat(32)}`, new RegExp(`Key ${vaultName}/other has no version f{32}\\.`)],
        [`--key-uri ${uri}/${older}`, /is disabled; Azure Storage cannot start using it/],
        [
          `--vault ${vaultName} --key other --key-size 4096`,
          new RegExp(`Key ${vaultName}/other exists as RSA 2048; you asked for RSA 4096\\.`),
        ],
      ];
      cases.push([
        `--vault ${vaultName} --key newhsm --hsm`,
        new RegExp(`Vault ${vaultName} is standard; RSA-HSM keys need premium\\.`),
      ]);
      for (const [options, sentence] of cases) {
        const c = chat();
        const writes = s.local.requestLog.writes().length;
        await c.say(`change-key ${account.name} ${options}`);
        const done = await result(workflowIdFor(account));
        assert.equal(done.outcome, 'blocked', `${options}: ${done.message}`);
        assert.match(done.message, sentence);
        assert.match(textOf((await c.card(/Blocked|blocked/)).card), sentence, options);
        assert.equal(s.local.requestLog.writes().length, writes, `${options}: zero Azure writes`);
      }
    });

    test('when update-version is typed for a pinned account Key Vault rotated, then the run pins it to the newest version', async () => {
      const account = s.newAccount();
      const { vaultName, keyName } = await cmkAccountOn(s.local, account.name, { pinned: true });
      const latest = (await clientsFor(s.local).keys(vaultName).rotateKey(keyName)).properties.version!;
      const reply = await chat().say(`update-version ${account.name}`);
      assert.match(reply, /Started \*\*Update key version · .* · the latest version\*\*/);
      const done = await result(workflowIdFor(account));
      assert.equal(done.outcome, 'succeeded', done.message);
      assert.equal(arm(account).properties.encryption.keyvaultproperties?.keyversion, latest);
      assert.equal(
        (await s.client.workflow.getHandle(workflowIdFor(account)).describe()).type,
        'updateKeyVersion',
      );
    });

    test('when restore-access is typed after a revoke, then its card asks the approvers, and after a click the key version is enabled and access is back', async () => {
      const account = s.newAccount();
      const { vaultName, keyName, version } = await cmkAccountOn(s.local, account.name);
      const keys = clientsFor(s.local).keys(vaultName);
      await keys.updateKeyProperties(keyName, version, { enabled: false });
      const c = chat();
      assert.match(await c.say(`restore-access ${account.name}`), /Started \*\*Restore key access/);
      const { messageId, card } = await c.card(/Waiting for approval/);
      assert.match(textOf(card), /Re-enable key version/);
      assert.match(
        await c.click(WHO.alice, 'approve', messageId, refreshData(card)),
        /Alice Approver approved/,
      );
      const done = await result(workflowIdFor(account));
      assert.equal(done.outcome, 'succeeded', done.message);
      assert.equal((await keys.getKey(keyName, { version })).properties.enabled, true);
      await eventually('the card shows the outcome', () =>
        /Succeeded/.test(c.latest(messageId)) ? true : undefined,
      );
    });

    test('when set-rotation-policy names a key, then a run on the key sets the policy in Key Vault', async () => {
      const account = s.newAccount();
      const { vaultName, keyName } = await cmkAccountOn(s.local, account.name);
      const reply = await chat().say(
        `set-rotation-policy ${vaultName}/${keyName} --expire-after 90d --rotate-before 30d`,
      );
      assert.match(reply, new RegExp(`Started \\*\\*Set rotation policy · ${vaultName}/${keyName}\\*\\*`));
      const done = await result(keyWorkflowId({ vault: vaultName, name: keyName }));
      assert.equal(done.outcome, 'succeeded', done.message);
      const policy = await clientsFor(s.local).keys(vaultName).getKeyRotationPolicy(keyName);
      assert.equal(policy.expiresIn, 'P90D');
    });

    test('when rotate-fleet selects accounts by tag, then one plan card lists them, one approval starts them, and the same card shows their progress to the end', async () => {
      const tag = `fleet${randomUUID().slice(0, 6)}`;
      const accounts = [s.newAccount(), s.newAccount()];
      for (const a of accounts) {
        await cmkAccountOn(s.local, a.name, { pinned: true });
        await clientsFor(s.local).storage.storageAccounts.update(a.resourceGroup, a.name, {
          tags: { team: tag },
        });
      }
      const c = chat();
      assert.match(
        await c.say(`rotate-fleet --tag team=${tag}`),
        /Started \*\*Fleet rotation · 2 accounts\*\* \(with tag team=/,
      );
      const { messageId, card } = await c.card(/Waiting for approval/);
      const shown = textOf(card);
      assert.match(shown, /Accounts: 2 to rotate, 0 skipped \(of 2\)/);
      for (const a of accounts) assert.ok(shown.includes(a.name), `the plan card names ${a.name}`);
      assert.match(await c.click(WHO.bob, 'approve', messageId, refreshData(card)), /Bob Approver approved/);
      const final = await eventually('the card shows every outcome', () => {
        const text = c.latest(messageId);
        return /Progress: 2 of 2 done \(2 succeeded\)/.test(text) && /Failed|Succeeded/.test(text)
          ? text
          : undefined;
      });
      for (const a of accounts) assert.ok(final.includes(a.name));
      assert.equal(
        c.sent().filter((x) => x.method === 'POST' && textOf(x.body).includes('Rotate key ·')).length,
        0,
        'no card per account',
      );
    });

    test('when pending is typed by an approver, then the runs waiting on them are listed with a button that opens the card with their buttons', async () => {
      const account = s.newAccount();
      await cmkAccountOn(s.local, account.name);
      const c = chat();
      await c.say(`disable ${account.name}`);
      await c.card(/Waiting for approval/);
      const listed = await eventually('the run is listed as pending', async () => {
        const text = await c.say('pending', WHO.alice);
        return text.includes(`Disable CMK · ${account.name}`) ? text : undefined;
      });
      assert.match(listed, /Requested by Rita Requester · 0 of 1 approval\(s\)/);
      assert.match(listed, /Review and decide/);
      const pendingCard = c.cardOf(c.sent().at(-1))!;
      const review = (JSON.stringify(pendingCard).match(
        /"verb":"refresh","title":"Review and decide","data":(\{[^}]*\})/,
      ) ?? [])[1];
      assert.ok(review, 'the row carries its run');
      const opened = await c.click(
        WHO.alice,
        'refresh',
        c.sent().at(-1)!.activityId ?? 'x',
        JSON.parse(review),
      );
      assert.match(opened, /Approve[\s\S]*Reject/);
      assert.doesNotMatch(
        await c.say('pending', WHO.requester),
        new RegExp(`Disable CMK · ${account.name}`),
        'not on its own requester',
      );
      await s.client.workflow.getHandle(workflowIdFor(account)).terminate('test done');
    });
  });
}
