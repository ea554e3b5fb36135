/**
 * ISO 8601 durations as Key Vault reads them in rotation policies (`P90D`, `P3M`, `PT48H`,
 * `P1Y10D`: key-vault/keys/how-to-configure-key-rotation); Key Vault takes no other form. The
 * emulator parses them itself, so a bug in the product's parser cannot hide in tests.
 */

const DAY_MS = 86_400_000;
const ISO_DURATION =
  /^P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Milliseconds of an ISO 8601 duration (a year counted as 365 days, a month as 30), or undefined when it is not one. */
export function isoDurationMs(text: string): number | undefined {
  const match = ISO_DURATION.exec(text);
  if (!match) return undefined;
  const [years, months, weeks, days, hours, minutes, seconds] = match.slice(1).map((n) => Number(n ?? 0));
  return (
    ((years ?? 0) * 365 + (months ?? 0) * 30 + (weeks ?? 0) * 7 + (days ?? 0)) * DAY_MS +
    ((hours ?? 0) * 3600 + (minutes ?? 0) * 60 + (seconds ?? 0)) * 1000
  );
}
