// The README's table of function configuration is the users' reference: every knob
// the code reads must be in it, with the default the code applies.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { describeConfig } from '../../../../shared/config/env.js';
import { repoRoot } from '../../../../plane/paths.js';

test('the README documents every environment variable with its default', () => {
  const readme = readFileSync(`${repoRoot()}/README.md`, 'utf8');
  for (const knob of describeConfig()) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${knob.name}\` |`));
    assert.ok(row, `README lacks a row for ${knob.name}`);
    if (knob.default) assert.ok(row.includes(`\`${knob.default}\``), `README row for ${knob.name} does not show its default ${knob.default}: ${row}`);
  }
});
