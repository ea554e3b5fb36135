/**
 * What Teams sends a bot, built the way the channel builds it, and posted to the bot's endpoint
 * over HTTP as the channel posts it.
 */
import { randomUUID } from 'node:crypto';
import type { Person } from '../../src/shared/approval';

/** Where an activity comes from: the connector it names and the tenant and conversation it is in. */
export interface TeamsContext {
  serviceUrl: string;
  tenantId: string;
  conversation: { id: string; conversationType: string };
  /** The bot's app id when it has one (`28:<appId>`); `cmk-runbook` otherwise. */
  botId?: string;
}

/** A Teams activity from `from`, with `extra` (type, text, value, …) on top. */
export function teamsActivity(
  context: TeamsContext,
  from: Person,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  return {
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: context.serviceUrl,
    from: { id: `29:${from.aadObjectId}`, ...from },
    recipient: { id: `28:${context.botId || 'cmk-runbook'}`, name: 'cmk-runbook' },
    conversation: { ...context.conversation, tenantId: context.tenantId },
    channelData: { tenant: { id: context.tenantId } },
    ...extra,
  };
}

/** A new personal chat's conversation. */
export function personalChat(): { id: string; conversationType: 'personal' } {
  return { id: `a:personal-${randomUUID().slice(0, 8)}`, conversationType: 'personal' };
}

/** POSTs an activity to `${botUrl}/api/messages`; returns the status and the body (parsed when JSON). */
export async function postActivity(
  botUrl: string,
  body: object,
  token?: string,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${botUrl}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('json') ?? false;
  return { status: response.status, body: text && json ? (JSON.parse(text) as unknown) : text || undefined };
}
