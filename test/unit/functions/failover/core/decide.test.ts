
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../../../functions/failover/core/decide.js';
import { keys, NOW } from './fixtures.js';
import { rows } from './decide.rows.js';
import { summary } from './decide.shared.js';

describe('decide: table', () => {
  for (const row of rows) {
    it(row.name, () => {
      const { plan } = decide({ service: row.service, pods: row.pods, keys, now: row.now ?? NOW });
      assert.deepEqual(summary(plan), row.expect);
    });
  }
});
