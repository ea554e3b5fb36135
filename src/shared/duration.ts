/**
 * Durations as users type them ("30m", "24h", "7d") and as ISO 8601 ("P7D", "PT1H").
 * Pure: used by workflows (deadlines), activities (rotation policy) and the bot (commands).
 */
import { ValidationError } from './names';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const SHORT = /^(\d+)(ms|s|m|h|d|w)$/;
const ISO = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Parses "90s", "30m", "24h", "7d", "2w" or an ISO 8601 duration ("P30D", "PT12H") into milliseconds. */
export function parseDurationMs(text: unknown, field = 'duration'): number {
  if (typeof text === 'string') {
    const short = SHORT.exec(text.trim());
    if (short) {
      const ms = Number(short[1]) * UNIT_MS[short[2] as keyof typeof UNIT_MS];
      if (ms > 0) return ms;
    }
    const iso = ISO.exec(text.trim());
    if (iso && text.trim() !== 'P' && !text.trim().endsWith('T')) {
      const [, y, mo, w, d, h, mi, s] = iso.map((part) => Number(part ?? 0));
      const ms =
        (y ?? 0) * 365 * UNIT_MS.d +
        (mo ?? 0) * 30 * UNIT_MS.d +
        (w ?? 0) * UNIT_MS.w +
        (d ?? 0) * UNIT_MS.d +
        (h ?? 0) * UNIT_MS.h +
        (mi ?? 0) * UNIT_MS.m +
        (s ?? 0) * UNIT_MS.s;
      if (ms > 0) return ms;
    }
  }
  throw new ValidationError(field, 'a duration like 30m, 24h, 7d or ISO 8601 P30D', text);
}

/** Formats milliseconds as the largest whole unit ("2h", "90m", "7d"). */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** Formats milliseconds as an ISO 8601 duration in days, as Key Vault's rotation policy expects ("P30D"). */
export function toIsoDays(ms: number): string {
  return `P${Math.ceil(ms / UNIT_MS.d)}D`;
}

/**
 * How long a revocation may take to show on the data plane, unless the run says otherwise:
 * Azure Storage keeps using a key it unwrapped for a while and RBAC removals propagate in
 * minutes, so a shorter wait reports a revocation Azure is still applying as failed.
 */
export const REVOKE_CONFIRM_WITHIN = { default: '15m', min: '1m', max: '24h' } as const;

/** A revocation's confirmation window in ms, between {@link REVOKE_CONFIRM_WITHIN}'s min and max. */
export function revokeConfirmWithinMs(text: unknown, field = 'confirmWithin'): number {
  const ms = parseDurationMs(text ?? REVOKE_CONFIRM_WITHIN.default, field);
  const { min, max } = REVOKE_CONFIRM_WITHIN;
  if (ms < parseDurationMs(min) || ms > parseDurationMs(max))
    throw new ValidationError(field, `a confirmation window between ${min} and ${max}`, text);
  return ms;
}
