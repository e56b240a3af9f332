import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MAX_DURATION_MS, parseDuration } from '../../../../../functions/failover/core/duration.js';

describe('parseDuration', () => {
  const accepted: ReadonlyArray<readonly [string, number]> = [
    ['0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['24h', MAX_DURATION_MS],
    ['23h59m60s', MAX_DURATION_MS],
    ['007s', 7_000],
  ];
  for (const [text, ms] of accepted) {
    it(`accepts "${text}" as ${ms} ms`, () => {
      assert.deepEqual(parseDuration(text), { ok: true, value: ms });
    });
  }

  const rejected: ReadonlyArray<readonly [string, RegExp]> = [
    ['', /empty/],
    ['-5s', /negative/],
    ['-0', /negative/],
    ['5', /invalid/],
    ['00', /invalid/],
    ['1.5s', /invalid/],
    ['1d', /invalid/],
    ['s', /invalid/],
    [' 5s', /invalid/],
    ['5s ', /invalid/],
    ['+5s', /invalid/],
    ['5S', /invalid/],
    ['30s1m', /out of order/],
    ['1m1m', /out of order/],
    ['5ms1s', /out of order/],
    ['24h1ms', /exceeds 24h/],
    ['25h', /exceeds 24h/],
    ['9'.repeat(40) + 'h', /exceeds 24h/],
    ['1'.repeat(65) + 's', /longer than 64/],
    ['1'.repeat(10_240) + 's', /longer than 64/],
  ];
  for (const [text, reason] of rejected) {
    it(`rejects "${text.length > 20 ? `${text.slice(0, 12)}…(${text.length} chars)` : text}"`, () => {
      const result = parseDuration(text);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.match(result.message, reason);
      // Every refusal tells the user what would have been accepted.
      assert.match(result.message, /e\.g\. "500ms", "30s", "2m", "1h", "1m30s"/);
    });
  }
});
