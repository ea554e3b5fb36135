import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isoDurationMs } from '../../src/local-azure/iso-duration';

const DAY = 86_400_000;

// Key Vault's rotation policy takes ISO 8601 durations only: "P90D", "P3M", "PT48H", "P1Y10D"
// (key-vault/keys/how-to-configure-key-rotation, "Rotation policy").
describe("the local Key Vault's reading of rotation-policy durations", () => {
  const read: [string, number][] = [
    ['P90D', 90 * DAY],
    ['P3M', 90 * DAY],
    ['PT48H', 2 * DAY],
    ['P1Y10D', 375 * DAY],
    ['P2W', 14 * DAY],
    ['P1DT12H30M15S', DAY + 12 * 3_600_000 + 30 * 60_000 + 15_000],
  ];
  for (const [text, ms] of read) {
    test(`when a policy says ${text}, then Key Vault reads ${ms} ms`, () => {
      assert.equal(isoDurationMs(text), ms);
    });
  }
  for (const text of ['30d', '24h', 'P', 'PT', 'P1DT', 'p30d', '90', 'P-1D', ' P30D']) {
    test(`when a policy says "${text}", then it is not a duration Key Vault reads`, () => {
      assert.equal(isoDurationMs(text), undefined);
    });
  }
});
