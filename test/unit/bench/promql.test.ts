// The bench's small PromQL evaluator (it draws the dashboard picture): each shape the
// dashboard uses, on hand-made scrapes whose answers follow from Prometheus's rules.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bucketQuantile, evaluate, extras, growth, legend, parse, substitute, type Scrape } from '../../../bench/promql.js';
import { repoRoot } from '../../../plane/paths.js';
import { parseSamples } from '../../fixtures/prom-text.js';

// Four scrapes a second apart: a failover counter that grows and restarts, a histogram,
// and a gauge that disappears from the last scrape.
const scrapes: Scrape[] = [
  { t: 0, text: 'c{kind="failover",function="failover"} 1\nc{kind="initial",function="failover"} 1\ng{function="failover"} 5' },
  { t: 1, text: 'c{kind="failover",function="failover"} 3\nc{kind="initial",function="failover"} 1\ng{function="failover"} 7\nh_bucket{le="0.1"} 0\nh_bucket{le="1"} 0\nh_bucket{le="+Inf"} 0' },
  { t: 2, text: 'c{kind="failover",function="failover"} 4\nc{kind="initial",function="failover"} 2\ng{function="routes"} 9\nh_bucket{le="0.1"} 2\nh_bucket{le="1"} 4\nh_bucket{le="+Inf"} 4' },
  { t: 3, text: 'c{kind="failover",function="failover"} 1\nc{kind="initial",function="failover"} 2\nh_bucket{le="0.1"} 2\nh_bucket{le="1"} 4\nh_bucket{le="+Inf"} 5' },
].map(({ t, text }) => ({ t, samples: parseSamples(text) }));

const at = (expr: string, t: number): Array<[string, number]> =>
  evaluate(parse(substitute(expr, 2)), scrapes, t)
    .map((e): [string, number] => [JSON.stringify(e.labels), Math.round(e.value * 1000) / 1000])
    .sort();

test('each expression shape evaluates as Prometheus would (without edge extrapolation)', () => {
  const cases: Array<[string, number, Array<[string, number]>]> = [
    // Window (1, 3] holds t = 2 and 3: 4 -> 1 is a restart from zero, so it grew by 1.
    ['increase(c{kind="failover"}[2s])', 3, [['{"kind":"failover","function":"failover"}', 1]]],
    // Window (0, 3]: 3 -> 4 -> 1 grew by 2; the t = 0 sample lies outside it.
    ['increase(c[3s])', 3, [['{"kind":"failover","function":"failover"}', 2], ['{"kind":"initial","function":"failover"}', 1]]],
    ['sum by (kind) (increase(c[$__rate_interval]))', 2, [['{"kind":"failover"}', 1], ['{"kind":"initial"}', 1]]],
    ['sum(rate(c[3s]))', 3, [['{}', 3 / 2]]],
    ['rate(c[1s])', 3, []],
    ['sum(increase(c{kind="initial"}[3s])) + sum(increase(c{kind="failover"}[3s]))', 3, [['{}', 3]]],
    ['max by (function) (g{function=~"$function"})', 1, [['{"function":"failover"}', 7]]],
    ['max by (function) (g{function=~"rout.*"})', 2, [['{"function":"routes"}', 9]]],
    ['max(g)', 3, []],
    ['g{function="fail"}', 1, []],
    // Window (0, 3]: the buckets grew by 2, 4, 5; the p50 rank 2.5 lies a quarter of the way into (0.1, 1].
    ['histogram_quantile(0.5, sum by (le) (increase(h_bucket[3s])))', 3, [['{}', 0.1 + 0.9 * 0.25]]],
    // The p99 rank falls in +Inf: the highest finite bound.
    ['histogram_quantile(0.99, sum by (le) (increase(h_bucket[3s])))', 3, [['{}', 1]]],
    ['histogram_quantile(0.5, sum by (le) (rate(h_bucket[1s])))', 3, []],
  ];
  for (const [expr, t, want] of cases) assert.deepEqual(at(expr, t), want, `${expr} at ${t}`);
});

test('the counter, quantile and legend helpers', () => {
  const growths: Array<[number[], number]> = [
    [[], 0],
    [[3], 0],
    [[1, 3, 4], 3],
    [[5, 2, 4], 4],
    [[0, 0], 0],
  ];
  for (const [values, want] of growths) assert.equal(growth(values), want, JSON.stringify(values));
  const b = (pairs: Array<[number, number]>): Array<{ le: number; count: number }> => pairs.map(([le, count]) => ({ le, count }));
  const quantiles: Array<[number, Array<[number, number]>, number]> = [
    [0.5, [[1, 2], [2, 4], [Infinity, 4]], 1],
    [0.75, [[1, 2], [2, 4], [Infinity, 4]], 1.5],
    [0.25, [[1, 2], [2, 4], [Infinity, 4]], 0.5],
    [0.9, [[1, 0], [2, 0], [Infinity, 10]], 2],
    [0.5, [[1, 0], [Infinity, 0]], NaN],
    [0.5, [[1, 3]], NaN],
  ];
  for (const [q, buckets, want] of quantiles) assert.equal(bucketQuantile(q, b(buckets)), want, `${q} of ${JSON.stringify(buckets)}`);
  assert.equal(legend('{{kind}} {{outcome}}', { kind: 'Pod', outcome: 'handled' }), 'Pod handled');
  assert.equal(legend('p50', {}), 'p50');
  assert.equal(substitute('rate(x{function=~"$function"}[$__rate_interval])', 1.25), 'rate(x{function=~".*"}[1250ms])');
});

test('anything outside the subset is refused, never guessed', () => {
  for (const [expr, message] of [
    ['avg(rate(x[1m]))', /"avg" is not supported/],
    ['x{a!="b"}', /not understood|matcher/],
    ['rate(x[1m]) / 2', /not understood/],
    ['sum(rate(x[1m])', /ends early/],
    ['x offset 5m', /unexpected "offset"/],
    ['rate(x)', /expected "\["/],
  ] as const) {
    assert.throws(() => parse(expr), message, expr);
  }
});

test('every panel of the shipped dashboard parses, and what it uses beyond the core four is named', () => {
  const dashboard = JSON.parse(readFileSync(join(repoRoot(), 'knative', 'observability', 'dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  const used = new Set<string>();
  for (const panel of dashboard.panels) for (const target of panel.targets) for (const e of extras(parse(substitute(target.expr, 1)))) used.add(e);
  assert.deepEqual([...used].sort(), ['a bare gauge selector', 'max', 'max by', 'vector + vector']);
});
