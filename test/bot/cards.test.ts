import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv from 'ajv';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { renderPendingCard } from '../../src/bot/cards/pending';
import { renderPlanPreviewCard } from '../../src/bot/cards/preview';
import { COMMAND_FORMS } from '../../src/bot/commands';
import {
  ACCOUNT_NOTE,
  MAX_CARD_BYTES,
  cardBytes,
  renderErrorCard,
  renderHelpCard,
  renderRunCard,
  renderRunsCard,
  type AdaptiveCardJson,
} from '../../src/bot/cards/render';
import { APPROVER, blockedStatus, pendingStatus, succeededStatus } from './fixtures';

const ROOT = path.resolve(__dirname, '../..');
const SHOTS = path.join(ROOT, 'test-results', 'cards');

function compileSchema() {
  const ajv = new Ajv({ allErrors: true, strict: true, meta: false });
  ajv.addMetaSchema(draft06);
  ajv.addFormat('uri', (v: string) => URL.canParse(v));
  ajv.addFormat('uri-reference', true);
  const schema = JSON.parse(readFileSync(path.join(ROOT, 'vendor/schemas/adaptive-card-1.5.json'), 'utf8'));
  return ajv.compile(schema);
}
const validate = compileSchema();

const cards: Record<string, AdaptiveCardJson> = {
  'run-pending-everyone': renderRunCard(
    pendingStatus(),
    { canDecide: false },
    { refreshFor: ['29:approver-1'] },
  ),
  'run-pending-approver': renderRunCard(pendingStatus(), { canDecide: true }),
  'run-refused': renderRunCard(pendingStatus(), {
    canDecide: false,
    note: '⛔ Not recorded: You requested this run; someone else must approve it.',
  }),
  'run-blocked': renderRunCard(blockedStatus()),
  'run-blast': renderRunCard(blastStatus(), { canDecide: true }),
  pending: renderPendingCard([
    { ...pendingStatus(), requester: { ...pendingStatus().requester, name: 'Adele <Storage> Vance' } },
  ]),
  preview: renderPlanPreviewCard(
    {
      plan: { ...pendingStatus().plan!, blastRadius: { affected: [] } },
      approval: { required: true, operation: 'configure', quorum: 2, approvers: ['a', 'b', 'c'] },
    },
    {
      operation: 'configure',
      account: pendingStatus().account,
      requester: pendingStatus().requester,
      typed: 'configure stcontoso --key-uri https://kv-stcontoso.vault.azure.net/keys/cmk-key',
    },
  ),
  'run-succeeded': renderRunCard(succeededStatus()),
  error: renderErrorCard({
    problem: '--key-size: must be one of 2048, 3072, 4096 bits (got "1024")',
    usage: 'configure <account> [--key-size 2048|3072|4096]',
  }),
  help: renderHelpCard(),
  runs: renderRunsCard([
    {
      summary: 'Rotate key · stcontoso',
      detail: 'running · awaiting-approval',
      uiUrl: 'http://localhost:8233/x',
    },
  ]),
};

/** A revoke waiting for approval whose plan cuts off another account and a scope, and could not check everything. */
function blastStatus() {
  const status = pendingStatus();
  return {
    ...status,
    operation: 'revoke' as const,
    plan: {
      ...status.plan!,
      blastRadius: {
        affected: [
          {
            kind: 'account' as const,
            name: 'stfinance',
            id: '/subscriptions/x/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/stfinance',
            why: 'loses access: reaches kv-contoso/cmk-key only through identity id-cmk',
          },
          {
            kind: 'encryptionScope' as const,
            name: 'stcontoso/scope-a',
            id: '/subscriptions/x/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/stcontoso/encryptionScopes/scope-a',
            why: 'loses access: on version 0f1e2d3c… of kv-contoso/cmk-key, which is disabled',
          },
        ],
        unchecked: 'Encryption scopes of 3 account(s) beyond the first 200 were not checked.',
      },
    },
  };
}

/** The few browser globals the rendering step touches (the project compiles without DOM types). */
interface BrowserPage {
  AdaptiveCards: { AdaptiveCard: new () => { parse(json: unknown): void; render(): unknown } };
  document: { getElementById(id: string): BrowserElement };
}
interface BrowserElement {
  innerText: string;
  replaceChildren(...nodes: unknown[]): void;
  querySelectorAll(
    selector: string,
  ): Iterable<{ getAttribute(name: string): string | null; textContent: string | null }>;
}

function actions(card: AdaptiveCardJson): Record<string, unknown>[] {
  return (card.actions as Record<string, unknown>[] | undefined) ?? [];
}

describe('run, error, help and runs cards', () => {
  for (const [name, card] of Object.entries(cards)) {
    test(`when the ${name} card is rendered, then it is a valid Adaptive Card 1.5 well under 28 KB`, () => {
      assert.equal(validate(card), true, JSON.stringify(validate.errors, null, 2));
      assert.equal(card.version, '1.5');
      assert.ok(cardBytes(card) < MAX_CARD_BYTES / 2, `${name} is ${cardBytes(card)} bytes`);
    });
  }

  test('when a card has a key Adaptive Cards does not know, then the vendored schema refuses it', () => {
    const card = { ...renderHelpCard(), colour: 'red' };
    assert.equal(validate(card), false);
    const element = renderHelpCard();
    (element.body as object[]).push({ type: 'TextBlock', text: 'x', weight: 'heavy' });
    assert.equal(validate(element), false);
  });

  test('when an approver views a pending run, then Approve and Reject carry only the run ids', () => {
    const card = cards['run-pending-approver']!;
    const verbs = actions(card).map((a) => a.verb ?? a.title);
    assert.deepEqual(verbs, ['approve', 'reject', 'refresh', 'Open in Temporal UI']);
    for (const action of actions(card).filter((a) => a.type === 'Action.Execute')) {
      assert.deepEqual(Object.keys(action.data as object).sort(), ['fingerprint', 'runId', 'workflowId']);
    }
  });

  test('when everyone views a pending run, then no decision buttons show and approvers get an automatic refresh', () => {
    const card = cards['run-pending-everyone']!;
    assert.deepEqual(
      actions(card).map((a) => a.verb ?? a.title),
      ['refresh', 'Open in Temporal UI'],
    );
    const refresh = card.refresh as { action: { verb: string }; userIds: string[] };
    assert.equal(refresh.action.verb, 'refresh');
    assert.deepEqual(refresh.userIds, ['29:approver-1']);
  });

  test('when the run is finished, then the card has no refresh and no decision buttons', () => {
    const card = cards['run-succeeded']!;
    assert.equal(card.refresh, undefined);
    assert.deepEqual(
      actions(card).map((a) => a.title),
      ['Open in Temporal UI'],
    );
  });

  describe('in a browser, with the Adaptive Cards renderer', () => {
    let browser: Browser;
    let page: Page;
    before(async () => {
      mkdirSync(SHOTS, { recursive: true });
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 560, height: 900 } });
      await page.setContent(
        '<html><body style="font-family:sans-serif;background:#f5f5f5"><div id="card"></div></body></html>',
      );
      await page.addStyleTag({ path: require.resolve('adaptivecards/dist/adaptivecards.css') });
      await page.addScriptTag({ path: require.resolve('adaptivecards/dist/adaptivecards.min.js') });
      // Teams renders TextBlock text as markdown with HTML: a raw `<account>` is markup, not text.
      await page.evaluate(() => {
        const cards = (globalThis as unknown as BrowserPage).AdaptiveCards.AdaptiveCard as unknown as {
          onProcessMarkdown: (text: string, result: { didProcess: boolean; outputHtml?: string }) => void;
        };
        cards.onProcessMarkdown = (text, result) => {
          result.outputHtml = text;
          result.didProcess = true;
        };
      });
    });
    after(async () => {
      await browser?.close();
    });

    async function show(name: string): Promise<{ text: string; buttons: string[] }> {
      const result = await page.evaluate((json) => {
        const page = globalThis as unknown as BrowserPage;
        const card = new page.AdaptiveCards.AdaptiveCard();
        card.parse(json);
        const host = page.document.getElementById('card');
        host.replaceChildren(card.render());
        const buttons = [...host.querySelectorAll('button')].map(
          (b) => b.getAttribute('aria-label') ?? b.textContent ?? '',
        );
        return { text: host.innerText, buttons };
      }, cards[name]);
      await page.locator('#card').screenshot({ path: path.join(SHOTS, `${name}.png`) });
      return result;
    }

    test('when an approver opens a pending run, then they see the plan, the marks, the approvals and the buttons', async () => {
      const { text, buttons } = await show('run-pending-approver');
      assert.match(text, /Configure CMK · stcontoso/);
      assert.match(text, /Microsoft-managed keys/);
      assert.match(text, /versionless \(follows rotation\)/);
      assert.match(text, /Create vault kv-stcontoso with purge protection \(🔒 irreversible\)/);
      assert.match(text, /Encrypt stcontoso with kv-stcontoso\/cmk-key \(⚠️ destructive\)/);
      assert.match(text, /Approvals: 1 of 2/);
      // The deadline goes out as Adaptive Cards' DATE/TIME, which the client formats in its own zone.
      assert.match(text, /Decide by .*\d.*\d\d/);
      assert.doesNotMatch(text, /\{\{(DATE|TIME)/);
      assert.match(text, /Lee Gu approved/);
      assert.match(text, /Infrastructure encryption/);
      assert.deepEqual(buttons, ['Approve', 'Reject', 'Refresh', 'Open in Temporal UI']);
    });

    test('when a refused clicker sees the card, then the reason is in plain words', async () => {
      const { text, buttons } = await show('run-refused');
      assert.match(text, /Not recorded: You requested this run; someone else must approve it\./);
      assert.ok(!buttons.includes('Approve'));
    });

    test('when a run is blocked, then the card says what blocks it and how to fix it', async () => {
      const { text } = await show('run-blocked');
      assert.match(text, /Blocked/);
      assert.match(text, /Vault kv-legacy has no purge protection\./);
      assert.match(text, /Fix: Turn on purge protection/);
    });

    test('when a run succeeded, then the card shows the outcome and who approved', async () => {
      const { text, buttons } = await show('run-succeeded');
      assert.match(text, /Succeeded/);
      assert.match(text, /stcontoso is encrypted with kv-stcontoso\/cmk-key/);
      assert.match(text, new RegExp(`${APPROVER.name} approved`));
      assert.match(text, /Approved \(2 of 2\)/);
      assert.deepEqual(buttons, ['Open in Temporal UI']);
    });

    test('when a revoke touches others, then its card names each account and encryption scope with why, and what was not checked', async () => {
      const { text, buttons } = await show('run-blast');
      assert.match(text, /Also affected \(2\)/);
      assert.match(
        text,
        /Account stfinance — loses access: reaches kv-contoso\/cmk-key only through identity id-cmk/,
      );
      assert.match(
        text,
        /Encryption scope stcontoso\/scope-a — loses access: on version 0f1e2d3c… of kv-contoso\/cmk-key, which is disabled/,
      );
      assert.match(text, /Encryption scopes of 3 account\(s\) beyond the first 200 were not checked\./);
      assert.ok(buttons.includes('Approve'), buttons.join());
    });

    test('when pending lists a run, then who asked shows as written, with the approvals so far and a button that opens the run', async () => {
      const { text, buttons } = await show('pending');
      assert.match(text, /Waiting for your approval \(1\)/);
      assert.match(text, /Configure CMK · stcontoso/);
      assert.match(text, /Requested by Adele <Storage> Vance · 1 of 2 approval\(s\)/);
      assert.ok(buttons.includes('Review and decide'), buttons.join());
    });

    test('when a plan is previewed, then the card says nothing started, who else is touched, what running it needs and what to type', async () => {
      const { text, buttons } = await show('preview');
      assert.match(text, /Plan only · not started/);
      assert.match(text, /Plan only: nothing was started and stcontoso is not locked\./);
      assert.match(
        text,
        /Also affected: no other account or encryption scope in the configured subscriptions/,
      );
      assert.match(
        text,
        /Running it needs 2 approval\(s\) for Configure CMK from 3 approver\(s\)\. To run configure cmk, type: configure stcontoso --key-uri https:\/\/kv-stcontoso\.vault\.azure\.net\/keys\/cmk-key/,
      );
      assert.ok(!buttons.includes('Approve'), 'a preview decides nothing');
    });

    test('when a command is malformed, then the error card names the problem and the right form', async () => {
      const { text } = await show('error');
      assert.match(text, /--key-size: must be one of 2048, 3072, 4096 bits/);
      assert.match(text, /The right form:/);
      assert.match(text, /configure <account> \[--key-size 2048\|3072\|4096\]/);
    });

    test('when help and runs are shown, then every command, its placeholders and each run link are visible', async () => {
      const help = await show('help');
      for (const { usage, description } of COMMAND_FORMS) {
        assert.ok(help.text.includes(usage), usage);
        assert.ok(help.text.includes(description), description);
      }
      assert.ok(help.text.includes(ACCOUNT_NOTE), ACCOUNT_NOTE);
      for (const word of [
        'configure <account>',
        'change-key <account> (--key <name> | --key-uri <uri>)',
        'plan <operation> <account>',
        'set-rotation-policy <vault>/<key>',
        'schedule-rotation',
        'runs',
      ]) {
        assert.ok(help.text.includes(word), word);
      }
      const runs = await show('runs');
      assert.match(runs.text, /Rotate key · stcontoso/);
      assert.match(runs.text, /Open in Temporal UI/);
    });
  });
});
