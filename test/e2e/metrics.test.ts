// Metrics end to end: a failover on the local plane moves the counters and histograms a
// platform team alerts on, the scrape is valid exposition format (promtool check
// metrics), the shipped alert rules pass promtool check rules, and bad metrics knobs stop
// start-up naming the variable.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../../plane/wait.js';
import { parseSamples, valueOf } from '../fixtures/prom-text.js';
import { repoRoot } from '../../plane/paths.js';
import { ensurePromtool, runPromtool } from '../../plane/promtool.js';
import { startBaton } from './support/baton.js';
import { adminConfig, testNamespace, testPlane } from './support/plane.js';
import { loadConfig } from '../../shared/config/env.js';
import { watchSlices } from './support/slices.js';
import { createDeployment, labelService, setPodReady } from './support/workloads.js';

const OPT_IN = { 'baton.dev/mode': 'active-standby' };

// A cold build of promtool takes many minutes on a small machine; once cached, none.
let building: Promise<string> | undefined;
const promtool = (): Promise<string> => (building ??= ensurePromtool((m) => console.error(`[promtool] ${m}`)));

/** Sample values by series, keyed as the docs print them (labels in the order given), e.g. `baton_switches_total{kind="failover",function="failover"}`. */
interface Values {
  get(series: string): number | undefined;
  keys(): string[];
}

function samples(text: string): Values {
  const parsed = parseSamples(text);
  return {
    get: (series) => {
      const want = parseSamples(`${series} 0`)[0]!;
      return valueOf(parsed, want.name, want.labels);
    },
    keys: () => parsed.map((s) => `${s.name}${JSON.stringify(s.labels)}`),
  };
}

async function scrape(url: string): Promise<{ text: string; values: Values }> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  const text = await response.text();
  return { text, values: samples(text) };
}

const F = 'function="failover"';

test('a real failover moves the switch counters, the completion and detection histograms, and the event and API counters', { timeout: 20 * 60_000 }, async (t) => {
  const ns = await testNamespace(t, 'metrics');
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const slices = await watchSlices(t, ns);
  // Scoped to its namespace: the index then counts this test's Services, not the plane's.
  const baton = await startBaton(t, ns, { BATON_NAMESPACES: ns });
  const url = baton.failover.url;

  const before = (await scrape(url)).values;
  assert.equal(before.get(`baton_switches_total{kind="failover",${F}}`), 0, 'no failover yet: the series is exported at 0');
  assert.equal(before.get(`baton_services_known{${F}}`), 0);

  await createDeployment(kc, ns, 'web', 3);
  await waitFor('3 ready pods', async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    return pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined;
  });
  await labelService(kc, ns, 'web', OPT_IN);
  const first = await baton.sink.waitFor('completed term 1', (e) => e.type === 'dev.baton.failover.completed' && (e.data as { term?: number }).term === 1, 30_000);
  const active = (first.data as { active: { name: string } }).active.name;
  const adopted = (await scrape(url)).values;
  assert.equal(adopted.get(`baton_switches_total{kind="initial",${F}}`), 1);
  assert.equal(adopted.get(`baton_switch_completion_seconds_count{kind="initial",${F}}`), 1);
  assert.equal(adopted.get(`baton_services_known{${F}}`), 1);

  await setPodReady(kc, ns, active, false);
  const done = await baton.sink.waitFor('completed term 2', (e) => e.type === 'dev.baton.failover.completed' && (e.data as { term?: number }).term === 2, 30_000);
  await waitFor('the slices to show the new active', () => (slices.current('web').length === 1 && slices.current('web')[0] !== active ? true : undefined));
  const after = (await scrape(url)).values;

  assert.equal(after.get(`baton_switches_total{kind="failover",${F}}`), 1, 'one failover switch');
  assert.equal(after.get(`baton_switches_total{kind="initial",${F}}`), 1, 'the initial one not counted again');
  assert.equal(after.get(`baton_switch_completion_seconds_count{kind="failover",${F}}`), 1);
  // The histogram holds exactly what the completed audit event reports.
  const latencyMs = (done.data as { latencyMs: number }).latencyMs;
  assert.ok(Math.abs((after.get(`baton_switch_completion_seconds_sum{kind="failover",${F}}`) ?? NaN) - latencyMs / 1000) < 1e-9, `sum vs ${latencyMs} ms`);
  const le = (bound: string): number | undefined => after.get(`baton_switch_completion_seconds_bucket{le="${bound}",kind="failover",${F}}`);
  assert.equal(le('+Inf'), 1);
  // Detection: the old active's Ready=False time (the test wrote it) to the decision.
  assert.equal(after.get(`baton_failover_detection_seconds_count{${F}}`), 1);
  assert.ok((after.get(`baton_failover_detection_seconds_sum{${F}}`) ?? -1) >= 0);
  // The pod event that set it off was handled, and the switch was a 2xx Service PATCH.
  const podHandled = (v: Values): number => v.get(`baton_events_total{kind="Pod",outcome="handled",${F}}`) ?? 0;
  assert.ok(podHandled(after) > podHandled(adopted), 'pod events handled went up');
  const patches = (v: Values): number => v.get(`baton_api_requests_total{verb="patch",resource="services",code="2xx",${F}}`) ?? 0;
  assert.ok(patches(after) >= patches(adopted) + 2, `the switch and the completion record are Service PATCHes (${patches(adopted)} -> ${patches(after)})`);
  assert.ok((after.get(`baton_api_requests_total{verb="list",resource="pods",code="2xx",${F}}`) ?? 0) > 0);
  // Nothing refused, nothing unavailable, no namespace or Service label by default.
  assert.equal(after.get(`baton_unavailable_total{${F}}`), 0);
  assert.equal(after.get(`baton_switchovers_refused_total{${F}}`), 0);
  assert.ok(!after.keys().some((k) => k.includes(ns) || k.includes('service="web"')), 'no per-Service labels unless asked');
});

test('the scrape is valid Prometheus exposition format (promtool check metrics)', { timeout: 20 * 60_000 }, async (t) => {
  const ns = await testNamespace(t, 'metrics-fmt');
  const baton = await startBaton(t, ns, { BATON_METRICS_SERVICE_LABELS: 'true' });
  // Figures of every kind: a delivery, a rejected delivery, API requests.
  await fetch(baton.failover.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  const { text } = await scrape(baton.failover.url);
  assert.match(text, /^# TYPE baton_events_total counter$/m);
  const tool = await promtool();
  // The whole page parses (--extended: parse and count series, lint apart).
  const parsed = runPromtool(tool, ['check', 'metrics', '--extended', '--lint=none'], text);
  assert.ok(parsed.ok, `promtool check metrics (parse):\n${parsed.output}`);
  assert.match(parsed.output, /baton_switch_completion_seconds|baton_event_handling_seconds/);
  // baton's own families are also lint-clean. prom-client's process figures are not
  // (three gauges named *_total, nodejs_active_handles_total among them): left out here.
  const own = text
    .split('\n')
    .filter((line) => /^(# (HELP|TYPE) )?baton_/.test(line) || line === '')
    .join('\n');
  const linted = runPromtool(tool, ['check', 'metrics'], own);
  assert.ok(linted.ok, `promtool check metrics (lint of baton_*):\n${linted.output}`);
  // The check can fail: a page that does not parse is refused.
  assert.equal(runPromtool(tool, ['check', 'metrics', '--extended', '--lint=none'], `${text}\nbaton_broken{ 1\n`).ok, false);
});

test('the shipped alert rules pass promtool check rules and their unit tests', { timeout: 20 * 60_000 }, async () => {
  const rule = k8s.loadYaml<{ kind: string; spec: unknown }>(readFileSync(join(repoRoot(), 'knative', 'observability', 'prometheusrule.yaml'), 'utf8'));
  assert.equal(rule.kind, 'PrometheusRule');
  const dir = mkdtempSync(join(tmpdir(), 'baton-rules-'));
  try {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, k8s.dumpYaml(rule.spec));
    const result = runPromtool(await promtool(), ['check', 'rules', file]);
    assert.ok(result.ok, `promtool check rules:\n${result.output}`);
    assert.match(result.output, /SUCCESS: 7 rules found/);
    // The alerts fire on what they are named for, and stay quiet otherwise.
    const cases = join(dir, 'alerts.test.yaml');
    copyFileSync(join(repoRoot(), 'test', 'fixtures', 'prometheus', 'alerts.test.yaml'), cases);
    const tested = runPromtool(await promtool(), ['test', 'rules', cases]);
    assert.ok(tested.ok, `promtool test rules:\n${tested.output}`);
    // The check can fail: a broken expression is refused.
    writeFileSync(file, k8s.dumpYaml({ groups: [{ name: 'x', rules: [{ alert: 'Broken', expr: 'sum(rate(baton_events_total[5m])' }] }] }));
    assert.equal(runPromtool(await promtool(), ['check', 'rules', file]).ok, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad metrics knob stops start-up with a message naming the variable', () => {
  for (const [name, value] of [
    ['BATON_METRICS', 'yes'],
    ['BATON_METRICS_PORT', '70000'],
    ['BATON_METRICS_SERVICE_LABELS', 'maybe'],
  ] as const) {
    const r = spawnSync(process.execPath, [join(repoRoot(), 'dist', 'functions', 'serve.js'), 'failover'], {
      env: { ...process.env, KUBECONFIG: '/nonexistent', [name]: value },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 78, `${name}=${value}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${name}="${value}": expected`));
  }
});

test('knative/observability, as a component of the production overlay, renders and configures a valid metrics port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-observability-'));
  try {
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      k8s.dumpYaml({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        // kustomize takes only relative paths here.
        resources: [relative(dir, join(repoRoot(), 'knative', 'overlays', 'production'))],
        components: [relative(dir, join(repoRoot(), 'knative', 'observability'))],
      }),
    );
    const r = spawnSync(testPlane().binaries.paths.kubectl, ['kustomize', dir, '--load-restrictor', 'LoadRestrictionsNone'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const objects = k8s.loadAllYaml(r.stdout) as Array<{ kind: string; metadata: { name: string }; data?: Record<string, string> }>;
    assert.deepEqual(objects.filter((o) => ['PodMonitor', 'PrometheusRule'].includes(o.kind)).map((o) => o.kind).sort(), ['PodMonitor', 'PrometheusRule']);
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('baton-config-'));
    assert.equal(config?.data?.['BATON_METRICS_PORT'], '9091');
    // The functions accept it (a ConfigError names the variable otherwise).
    assert.equal(loadConfig(config?.data ?? {}).metricsPort, 9091);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
