// docs/configuration.md is the users' reference for function configuration: every knob
// the code reads must have a row in its table, with the default the code applies, and
// the README must lead there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { describeConfig } from '../../../../shared/config/env.js';
import { repoRoot } from '../../../../plane/paths.js';

const REFERENCE = 'docs/configuration.md';

// The knob rows live in the first table under "## Function settings"; a variable named
// only in prose, or in the tools' table further down, does not count.
function settingsRows(markdown: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === '## Function settings');
  assert.ok(start >= 0, `${REFERENCE} lacks its "## Function settings" section`);
  const rows: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('#')) break;
    if (line.startsWith('| `')) rows.push(line);
  }
  return rows;
}

test('docs/configuration.md documents every environment variable with its default', () => {
  const rows = settingsRows(readFileSync(`${repoRoot()}/${REFERENCE}`, 'utf8'));
  for (const knob of describeConfig()) {
    const row = rows.find((line) => line.startsWith(`| \`${knob.name}\` |`));
    assert.ok(row, `${REFERENCE} lacks a row for ${knob.name}`);
    // The default is the row's second cell, so a default quoted elsewhere in the row
    // (in the meaning, say) does not pass for it.
    const defaultCell = row.split(' | ')[1] ?? '';
    if (knob.default) assert.ok(defaultCell.includes(`\`${knob.default}\``), `${REFERENCE} row for ${knob.name} does not show its default ${knob.default}: ${row}`);
  }
});

test('docs/configuration.md has no row for a variable the code does not read', () => {
  const known = new Set(describeConfig().map((knob) => knob.name));
  const rows = settingsRows(readFileSync(`${repoRoot()}/${REFERENCE}`, 'utf8'));
  for (const row of rows) {
    const name = /^\| `([^`]+)` \|/.exec(row)?.[1];
    assert.ok(name !== undefined && known.has(name), `${REFERENCE} documents ${name ?? row}, which shared/config/env.ts does not read`);
  }
});

test('the README links the configuration reference', () => {
  const readme = readFileSync(`${repoRoot()}/README.md`, 'utf8');
  assert.ok(readme.includes(`](${REFERENCE})`), `README.md does not link ${REFERENCE}`);
});
