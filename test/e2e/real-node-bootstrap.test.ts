// The real node's bootstrap refuses to start on a machine that already uses part of the
// cluster range, before anything starts, and names what is in the way. The address is
// made here on a bridge of the test's own (the kernel here has no dummy links), removed by name afterwards.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlane } from '../../plane/plane.js';
import { readState } from '../../plane/state.js';
import { skip } from './support/real-node.js';

const ip = (...args: string[]): void => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
};

describe('the real node bootstrap, on bad ground', { skip }, () => {
  it('an address in the cluster range already on the machine stops the start, naming it and saying what to do', async () => {
    const link = `btntest${process.pid % 100000}`;
    const dir = mkdtempSync(join(tmpdir(), 'baton-range-'));
    ip('link', 'add', link, 'type', 'bridge');
    try {
      ip('addr', 'add', '198.19.250.1/32', 'dev', link);
      await assert.rejects(startPlane({ dir, nodes: 1, realNode: true }), (error: Error) => {
        assert.match(error.message, new RegExp(`address 198\\.19\\.250\\.1/32 on ${link}`));
        assert.match(error.message, /remove the address or route, or run without --real-node/);
        return true;
      });
      // Refused before anything started: no process, no state, no lock left behind.
      assert.equal(readState(dir), undefined);
      assert.equal(existsSync(join(dir, 'state.json')), false);
    } finally {
      ip('link', 'del', link);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
