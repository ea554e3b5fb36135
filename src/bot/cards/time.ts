/**
 * Times as a person reads them on a card: relative ("in 3 h 12 min", "5 min ago"), and local —
 * in the reader's time zone when Teams told us (an activity's `localTimezone`, or the
 * `clientInfo` entity's `timezone`), else through Adaptive Cards' DATE/TIME functions, which every
 * Teams client renders in its own user's time zone.
 */

/** A span of time in words, coarse enough to read at a glance: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function spanInWords(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** `iso` relative to `nowMs`: "in 3 h 12 min" or "5 min ago". */
export function relativeTime(iso: string, nowMs: number = Date.now()): string {
  const delta = Date.parse(iso) - nowMs;
  return delta >= 0 ? `in ${spanInWords(delta)}` : `${spanInWords(delta)} ago`;
}

/** True when the runtime knows `timeZone` (an IANA name such as Europe/Berlin). */
function isKnownTimeZone(timeZone: string | undefined): timeZone is string {
  if (!timeZone) return false;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * `iso` as a reader in `timeZone` reads it, e.g. "Tue 1 Dec, 14:05 CET"; without a known time
 * zone, Adaptive Cards' `{{DATE()}}`/`{{TIME()}}`, which the reader's Teams client formats locally.
 */
export function localTime(iso: string, timeZone?: string): string {
  if (!isKnownTimeZone(timeZone)) {
    const at = new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return `{{DATE(${at}, SHORT)}} {{TIME(${at})}}`;
  }
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(iso));
}

/** The reader's time zone an activity names: `localTimezone`, else the `clientInfo` entity's. */
export function timeZoneOf(activity: { localTimezone?: unknown; entities?: unknown }): string | undefined {
  if (isKnownTimeZone(typeof activity.localTimezone === 'string' ? activity.localTimezone : undefined)) {
    return activity.localTimezone as string;
  }
  const entities = Array.isArray(activity.entities) ? (activity.entities as Record<string, unknown>[]) : [];
  const client = entities.find((e) => e?.type === 'clientInfo');
  const zone = typeof client?.timezone === 'string' ? client.timezone : undefined;
  return isKnownTimeZone(zone) ? zone : undefined;
}
