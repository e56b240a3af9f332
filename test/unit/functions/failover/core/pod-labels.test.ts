// Role labels are written only if the pod is unchanged since it was read, so a write
// decided on an older view cannot undo a newer decision (e.g. re-add labels after an
// opt-out removed them). Removing baton's labels on opt-out is unconditional.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseWrites, roleWrites } from '../../../../../functions/failover/core/pod-labels.js';
import type { PodView } from '../../../../../functions/failover/core/model.js';
import { keys, pod } from './fixtures.js';

const at = (p: PodView, resourceVersion: string): PodView => ({ ...p, resourceVersion });

test('role label writes carry the resourceVersion the pod was read at', () => {
  const a = at(pod('a'), '41');
  const b = at(pod('b'), '42');
  const writes = roleWrites([a, b], a.uid, keys, [], true);
  assert.deepEqual(
    writes.map((w) => [w.pod, w.resourceVersion, w.labels[keys.role]]),
    [
      ['a', '41', 'active'],
      ['b', '42', 'standby'],
    ],
  );
});

test('opt-out label removal is guarded by the version the pod was read at', () => {
  const labelled = at(pod('a', { role: 'active' }), '7');
  const [write] = releaseWrites([labelled], keys);
  assert.equal(write?.resourceVersion, '7');
  assert.deepEqual(write?.labels, { [keys.podId]: null, [keys.role]: null });
});

test('with role labels off, candidates get only their pod-id, and a left-over role label is removed', () => {
  const fresh = at(pod('a'), '41');
  const leftOver = at(pod('b', { role: 'standby' }), '42');
  const writes = roleWrites([fresh, leftOver], fresh.uid, keys, [], false);
  const labelled = writes.find((w) => w.pod === 'b');
  assert.ok(labelled, 'b has a role label to remove');
  assert.deepEqual(labelled.labels, { [keys.role]: null });
  assert.equal(labelled.resourceVersion, '42');
  const idOnly = writes.find((w) => w.pod === 'a');
  if (idOnly) assert.deepEqual(Object.keys(idOnly.labels), [keys.podId]);
  // Converged: nothing to write.
  const converged = at({ ...pod('c'), labels: { ...pod('c').labels, [keys.podId]: pod('c').uid } }, '43');
  assert.deepEqual(roleWrites([converged], converged.uid, keys, [], false), []);
});

test('role labels are off unless asked for, as BATON_ROLE_LABELS is', () => {
  const fresh = at(pod('a'), '41');
  const leftOver = at(pod('b', { role: 'standby' }), '42');
  assert.deepEqual(roleWrites([fresh, leftOver], fresh.uid, keys), roleWrites([fresh, leftOver], fresh.uid, keys, [], false));
  assert.notDeepEqual(roleWrites([fresh, leftOver], fresh.uid, keys), roleWrites([fresh, leftOver], fresh.uid, keys, [], true));
});
