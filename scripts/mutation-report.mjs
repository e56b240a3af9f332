// Writes bench/results/<date>-mutation.md from Stryker's JSON report
// (reports/mutation/mutation.json): the per-file table, and every surviving mutant with
// the reason it is equivalent (bench/mutation-equivalents.json) or "not explained".
//   node scripts/mutation-report.mjs [--seconds=N] [--mode=cold|incremental] [--load=L] [--stdout]
//
// An entry in the equivalents file names a mutant by file, mutator, the original code
// it replaces and the replacement (and, when that is not unique, a piece of the source
// line), never by line number, so it survives edits elsewhere in the file. An entry
// that matches no survivor is listed as stale, so the file cannot quietly go out of date.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const report = JSON.parse(readFileSync(join(root, 'reports/mutation/mutation.json'), 'utf8'));
const equivalents = JSON.parse(readFileSync(join(root, 'bench/mutation-equivalents.json'), 'utf8')).equivalents;
const strykerVersion = JSON.parse(readFileSync(join(root, 'node_modules/@stryker-mutator/core/package.json'), 'utf8')).version;

const COUNTED = ['Killed', 'Survived', 'Timeout', 'NoCoverage'];

function originalText(source, location) {
  const lines = source.split('\n');
  const { start, end } = location;
  if (start.line === end.line) return lines[start.line - 1].slice(start.column - 1, end.column - 1);
  const first = lines[start.line - 1].slice(start.column - 1);
  const middle = lines.slice(start.line, end.line - 1);
  const last = lines[end.line - 1].slice(0, end.column - 1);
  return [first, ...middle, last].join('\n');
}

const oneLine = (text, max = 90) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};
const cell = (text) => `\`${oneLine(text).replaceAll('|', '\\|').replaceAll('`', "'")}\``;

const rows = [];
const survivors = [];
const used = new Set();
const total = { mutants: 0, Killed: 0, Survived: 0, Timeout: 0, NoCoverage: 0, other: 0, equivalent: 0 };
for (const file of Object.keys(report.files).sort()) {
  const { source, mutants } = report.files[file];
  const count = { mutants: 0, Killed: 0, Survived: 0, Timeout: 0, NoCoverage: 0, other: 0, equivalent: 0 };
  for (const m of mutants) {
    if (COUNTED.includes(m.status)) {
      count.mutants += 1;
      count[m.status] += 1;
    } else count.other += 1;
    if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
    const original = originalText(source, m.location);
    const line = source.split('\n')[m.location.start.line - 1];
    const index = equivalents.findIndex(
      (e) => e.file === file && e.mutator === m.mutatorName && e.original === original && e.replacement === m.replacement && (e.context === undefined || line.includes(e.context)),
    );
    if (index >= 0) {
      used.add(index);
      count.equivalent += 1;
    }
    survivors.push({ file, line: m.location.start.line, mutator: m.mutatorName, status: m.status, original, replacement: m.replacement ?? '', reason: equivalents[index]?.reason });
  }
  for (const k of Object.keys(total)) total[k] += count[k];
  rows.push([file, count]);
}

const percent = (hit, of) => (of === 0 ? '–' : `${((100 * hit) / of).toFixed(1)} %`);
const score = (c) => percent(c.Killed + c.Timeout, c.mutants);
// The same score with the mutants explained as equivalent set aside: none of them can
// be killed by any test, so this is the share of the killable ones that were killed.
const killable = (c) => percent(c.Killed + c.Timeout, c.mutants - c.equivalent);
const row = (name, c) => `| ${name} | ${c.mutants} | ${c.Killed} | ${c.Survived} | ${c.Timeout} | ${c.NoCoverage} | ${score(c)} | ${c.equivalent} | ${killable(c)} |`;
const date = new Date().toISOString().slice(0, 10);
const seconds = arg('seconds');
const unexplained = survivors.filter((s) => s.reason === undefined);
const stale = equivalents.filter((_, i) => !used.has(i));

const out = [];
out.push(`# Mutation testing of the pure cores, ${date}`, '');
out.push(
  `Machine: ${os.availableParallelism()} CPU (${os.cpus()[0]?.model ?? 'unknown'}), Node.js ${process.version}, StrykerJS ${strykerVersion} with the tap runner; ` +
    `1-min load average at start ${arg('load') ?? 'not measured'} (other work shares the machine).`,
);
out.push(
  `Command: \`npm run mutate\`${seconds ? `, ${arg('mode') ?? 'cold'} run, ${seconds} s` : ''}. ` +
    'Score = (killed + timeout) / (killed + timeout + survived + no coverage). "Equivalent" counts the survivors explained below; ' +
    'the last column sets them aside. Written by scripts/mutation-report.mjs from reports/mutation/mutation.json.',
  '',
);
out.push(
  '| file | mutants | killed | survived | timeout | no coverage | score | equivalent | score without equivalents |',
  '|---|---|---|---|---|---|---|---|---|',
);
for (const [file, c] of rows) out.push(row(file, c));
out.push(row('**all cores**', total), '');
if (total.other > 0) out.push(`${total.other} mutant(s) did not compile or run and are not counted.`, '');

out.push(`## Surviving mutants (${survivors.length}; ${survivors.length - unexplained.length} equivalent, ${unexplained.length} not explained)`, '');
if (survivors.length === 0) out.push('None.', '');
else {
  out.push('Equivalent: the mutant cannot change what the function returns for any input it can be given. The reasons are in bench/mutation-equivalents.json.', '');
  out.push('| file:line | mutator | original → replacement | why it survives |', '|---|---|---|---|');
  for (const s of survivors) {
    const why = s.reason ?? `**not explained**${s.status === 'NoCoverage' ? ' (no test runs it)' : ''}`;
    out.push(`| ${s.file}:${s.line} | ${s.mutator} | ${cell(s.original)} → ${cell(s.replacement)} | ${why} |`);
  }
  out.push('');
}
if (stale.length > 0) {
  out.push('## Stale entries in bench/mutation-equivalents.json (they match no survivor)', '');
  for (const e of stale) out.push(`- ${e.file} ${e.mutator}: ${cell(e.original)} → ${cell(e.replacement)}`);
  out.push('');
}

const text = out.join('\n');
if (process.argv.includes('--stdout')) console.log(text);
else {
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const path = join(root, `bench/results/${date}-mutation.md`);
  writeFileSync(path, text);
  console.log(`mutate: ${score(total)} over ${total.mutants} mutants (${killable(total)} without equivalents), ${unexplained.length} survivor(s) not explained; wrote ${path}`);
}
