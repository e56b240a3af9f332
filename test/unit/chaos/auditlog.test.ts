// The audit-log reader counts what baton asked of the API server while the server is
// still writing: a window may start or end in the middle of a line.
import test from 'node:test';
import assert from 'node:assert/strict';
import { linesSince } from '../../chaos/auditlog.js';

const log = Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n{"d":');

test('linesSince keeps whole lines only, at both ends of the window', () => {
  const cases: ReadonlyArray<[string, number, string[]]> = [
    ['from the start', 0, ['{"a":1}', '{"b":2}', '{"c":3}']],
    ['from a line boundary', 8, ['{"b":2}', '{"c":3}']],
    ['from the middle of a line: that line began before the window', 10, ['{"c":3}']],
    ['from inside the unfinished last line', 26, []],
    ['from the end', log.length, []],
  ];
  for (const [name, from, want] of cases) assert.deepEqual(linesSince(log, from), want, name);
});

test('linesSince of a log without a newline yet is empty', () => {
  assert.deepEqual(linesSince(Buffer.from('{"a":'), 0), []);
  assert.deepEqual(linesSince(Buffer.from(''), 0), []);
});
