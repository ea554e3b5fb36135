/**
 * `npm run demo:request -- "<command>"`: in the local demo, Alex Wilber (a requester, not an
 * approver) sends a command to the bot in the playground's group chat, so that you — Megan, an
 * approver — see the approval card and can approve it. It posts the same activity Teams would.
 */
import { randomUUID } from 'node:crypto';
import { DEMO_TENANT_ID, DEMO_USERS, PLAYGROUND_BOT, PLAYGROUND_CONVERSATIONS } from './demo-users';

async function main(): Promise<void> {
  const command = process.argv.slice(2).join(' ').trim();
  if (!command) {
    process.stderr.write('usage: npm run demo:request -- "configure stfinance --vault kv-nopurge"\n');
    process.exit(2);
  }
  const botPort = Number(process.env.CMK_BOT_PORT ?? 3978);
  const playgroundPort = Number(process.env.CMK_START_PLAYGROUND_PORT ?? 56150);
  const alex = DEMO_USERS.alex;
  const mention = `<at>${PLAYGROUND_BOT.name}</at>`;
  const activity = {
    type: 'message',
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: `http://localhost:${playgroundPort}/_connector`,
    from: { id: alex.id, name: alex.name, aadObjectId: alex.aadObjectId },
    conversation: {
      id: PLAYGROUND_CONVERSATIONS.groupChat,
      conversationType: 'groupChat',
      isGroup: true,
      tenantId: DEMO_TENANT_ID,
    },
    recipient: { id: PLAYGROUND_BOT.id, name: PLAYGROUND_BOT.name },
    text: `${mention} ${command}`,
    textFormat: 'plain',
    entities: [
      { type: 'mention', text: mention, mentioned: { id: PLAYGROUND_BOT.id, name: PLAYGROUND_BOT.name } },
    ],
    channelData: { tenant: { id: DEMO_TENANT_ID } },
  };
  const response = await fetch(`http://127.0.0.1:${botPort}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(activity),
  });
  if (!response.ok) throw new Error(`the bot answered ${response.status}: ${await response.text()}`);
  process.stdout.write(
    `${alex.name} asked: ${command}\nOpen the "Key Custodians" group chat in the playground to see the card.\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`demo:request failed: ${(error as Error).message} — is npm start running?\n`);
  process.exit(1);
});
