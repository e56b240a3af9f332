// The README's first command, as a newcomer runs it: `baton demo` on its own plane,
// then again while that plane is up (it must reuse it, not fail or start another).
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batonCli } from './support/cli.js';

const baton = batonCli;

test('baton demo shows a failover timeline, and a second run reuses the running plane', async (t) => {
  const env = { BATON_STATE_DIR: mkdtempSync(join(tmpdir(), 'baton-demo-')) };
  t.after(() => baton(['cluster', 'down'], env));

  const first = await baton(['demo', '--no-wait'], env);
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /active: \S+ {3}standbys: \S+, \S+/);
  assert.match(first.out, /\+ +\d+ ms {2}baton-failover decided: failover \S+ → \S+ \(term 2\)/);
  assert.match(first.out, /failover took \d+ ms \(Ready=False written → EndpointSlice shows only the new active\)/);
  t.diagnostic(first.out.split('\n').find((l) => l.startsWith('failover took')) ?? '');

  const second = await baton(['demo', '--no-wait'], env);
  assert.equal(second.code, 0, second.out);
  assert.match(second.out, /reusing the local plane that is already running/);
  assert.match(second.out, /failover took \d+ ms/);
});
