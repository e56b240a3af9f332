// When the real-node e2e tests run: wherever the machine can, always in CI (so that a
// machine that cannot fails loudly instead of passing by skipping), and never when
// switched off by name.
import test from 'node:test';
import assert from 'node:assert/strict';
import { realNodeSkip } from '../../../e2e/support/real-node.js';

test('realNodeSkip runs where it can, always in CI, and never when switched off', () => {
  const able = { root: true, cgroupV1: true };
  const cases: ReadonlyArray<[string, NodeJS.ProcessEnv, { root: boolean; cgroupV1: boolean }, RegExp | false]> = [
    ['a capable machine', {}, able, false],
    ['not root', {}, { root: false, cgroupV1: true }, /needs root/],
    ['cgroup v2', {}, { root: true, cgroupV1: false }, /cgroup v1/],
    ['CI on an incapable machine: runs, and fails with the bootstrap message', { CI: 'true' }, { root: false, cgroupV1: false }, false],
    ['demanded', { BATON_REAL_NODE: '1' }, { root: false, cgroupV1: true }, false],
    ['switched off, even in CI', { BATON_REAL_NODE: '0', CI: 'true' }, able, /BATON_REAL_NODE=0/],
  ];
  for (const [name, env, machine, want] of cases) {
    const got = realNodeSkip(env, machine);
    if (want === false) assert.equal(got, false, name);
    else assert.match(String(got), want, name);
  }
});
