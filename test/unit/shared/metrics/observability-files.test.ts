// The dashboard and the alert rules name only metrics the functions export (or the
// recording rule), so a rename cannot leave a panel or an alert silently empty.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../../../plane/paths.js';
import { createMetrics } from '../../../../shared/metrics/metrics.js';

const dir = join(repoRoot(), 'knative', 'observability');

async function exported(): Promise<Set<string>> {
  const m = createMetrics({ function: 'failover', serviceLabels: true, processMetrics: true });
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    // The typings declare a numeric enum; the registry reports the type by name.
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

function used(text: string): Set<string> {
  return new Set([...text.matchAll(/\b((?:baton|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!));
}

describe('observability files', () => {
  it('the dashboard queries only exported metrics, each panel with a query', async () => {
    const known = await exported();
    const dashboard = JSON.parse(readFileSync(join(dir, 'dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    assert.ok(dashboard.panels.length >= 10);
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, panel.title);
      for (const name of used(panel.targets.map((t) => t.expr).join('\n'))) assert.ok(known.has(name), `${panel.title}: ${name} is not exported`);
    }
  });

  it('the alert rules use only exported metrics', async () => {
    const known = await exported();
    const rules = readFileSync(join(dir, 'prometheusrule.yaml'), 'utf8');
    const exprs = rules.split('\n').filter((l) => !l.trim().startsWith('#') && !l.includes('description:')).join('\n');
    for (const name of used(exprs)) assert.ok(known.has(name), `${name} is not exported`);
  });
});
