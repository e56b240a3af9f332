// `npm run bench:dashboard`: a picture of knative/observability/dashboard.json drawn from
// a real local run, not from Grafana. It starts the local plane and baton-failover fed
// by the ApiServerSource adapter (as `npm run bench` does), makes a few real failovers by
// setting the active pod unready, scrapes the function's /metrics every 250 ms, and
// evaluates each panel's PromQL over those scrapes with bench/promql.ts. Every process
// it starts is stopped, however the run ends.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startAdapter } from '../plane/adapter.js';
import { repoRoot } from '../plane/paths.js';
import { startPlane, stopPlane } from '../plane/plane.js';
import { installRbac, serviceAccountKubeconfig } from '../test/e2e/support/baton.js';
import { parseSamples } from '../test/fixtures/prom-text.js';
import { connectApi } from './api.js';
import { adapterDelivers, benchRun, localDate, say } from './context.js';
import { dashboardSvg, type PanelPicture, type PanelSeries } from './dashboard-svg.js';
import { spawnFunction } from './processes.js';
import { evaluate, extras, legend, parse, substitute, type Scrape } from './promql.js';
import { startSink, termOf, type Received } from './sink.js';
import { errorText, sleep } from './util.js';
import { createDeployment, createNamespace, createService } from './workloads.js';

const SCRAPE_MS = 250;
const STEP_S = 0.5;
// Grafana's $__rate_interval: max(step + scrape interval, 4 × scrape interval).
const RATE_INTERVAL_S = Math.max(STEP_S + SCRAPE_MS / 1000, (4 * SCRAPE_MS) / 1000);
const NS = 'bench-dashboard';
const COMPLETED = 'dev.baton.failover.completed';

const Dashboard = z.object({
  title: z.string(),
  panels: z.array(
    z.object({
      title: z.string(),
      type: z.string(),
      gridPos: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
      fieldConfig: z.object({ defaults: z.object({ unit: z.string().optional() }) }).optional(),
      targets: z.array(z.object({ expr: z.string(), legendFormat: z.string().optional() })),
    }),
  ),
});

/** Each panel's targets evaluated at every step; a target outside the evaluator's subset makes the panel a note. */
function panelsFrom(dashboard: z.infer<typeof Dashboard>, scrapes: readonly Scrape[], times: readonly number[]): PanelPicture[] {
  return dashboard.panels.map((panel) => {
    const base = { title: panel.title, type: panel.type, unit: panel.fieldConfig?.defaults.unit ?? 'short', grid: panel.gridPos };
    try {
      const parsed = panel.targets.map((t) => ({ target: t, expr: parse(substitute(t.expr, RATE_INTERVAL_S)) }));
      const series = new Map<string, Array<number | undefined>>();
      times.forEach((time, k) => {
        for (const { target, expr } of parsed) {
          for (const el of evaluate(expr, scrapes, time)) {
            const name = legend(target.legendFormat, el.labels);
            const values = series.get(name) ?? new Array<number | undefined>(times.length).fill(undefined);
            values[k] = el.value;
            series.set(name, values);
          }
        }
      });
      const beyond = [...new Set(parsed.flatMap((p) => extras(p.expr)))];
      const notes = beyond.length > 0 ? [`Uses beyond rate/increase/sum by/histogram_quantile: ${beyond.join(', ')} (evaluated).`] : [];
      // dashboard.json has no per-series unit overrides: a seconds series in a panel of
      // another unit shares its axis, in Grafana as here. Said, not corrected.
      const unit = base.unit;
      for (const t of panel.targets) {
        if (unit !== 's' && /_seconds\b/.test(t.expr)) notes.push(`"${t.legendFormat ?? t.expr}" is in seconds, the panel in ${unit}, no override in the JSON: same axis.`);
      }
      const out: PanelSeries[] = [...series.entries()].map(([name, values]) => ({ name, values }));
      return { ...base, series: out, notes };
    } catch (error) {
      return { ...base, series: [], notes: [], error: errorText(error) };
    }
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { failovers: { type: 'string', default: '4' } }, strict: true });
  const failovers = Number(values.failovers);
  if (!Number.isInteger(failovers) || failovers < 1 || failovers > 20) throw new Error(`--failovers takes a whole number from 1 to 20 (got ${JSON.stringify(values.failovers)})`);
  const dashboard = Dashboard.parse(JSON.parse(readFileSync(join(repoRoot(), 'knative', 'observability', 'dashboard.json'), 'utf8')));
  const { cleanup, dir } = benchRun('dashboard');
  let failed = false;
  try {
    cleanup.defer('the control plane', () => stopPlane(dir, { keepData: failed }).then(() => undefined));
    const plane = await startPlane({ dir, nodes: 1, progress: (m) => say(`[plane] ${m}`) });
    const api = connectApi(plane);
    cleanup.defer('the admin connection', () => api.close());
    await installRbac();
    await createNamespace(api, NS);
    const pods = await createDeployment(api, NS, 'web', 3);
    const sink = await startSink();
    cleanup.defer('the audit sink', () => sink.close());
    const baton = await spawnFunction({
      fn: 'failover',
      logFile: join(dir, 'logs', 'baton-failover-dashboard.log'),
      env: { KUBECONFIG: await serviceAccountKubeconfig('baton-failover'), K_SINK: sink.url, BATON_NAMESPACES: NS },
    });
    cleanup.defer('baton-failover', () => baton.stop());
    const adapter = await startAdapter({
      binary: plane.binaries.paths.apiserver_receive_adapter,
      kubeconfig: await serviceAccountKubeconfig('baton-source'),
      sink: baton.url,
      logDir: join(dir, 'logs'),
      namespaces: [NS],
    });
    cleanup.defer('the ApiServerSource adapter', () => adapter.stop());
    await adapterDelivers(api, baton, NS);
    say(`pipeline delivering; pods ${pods.join(', ')}`);

    // The scraper: one GET of /metrics every 250 ms, as a Prometheus with that interval would.
    const start = Date.now();
    const scrapes: Scrape[] = [];
    let scraping = true;
    let scrapeError: unknown;
    // Caught at once: a failed scrape must end the run through the clean-up, not crash it.
    const scraper = (async () => {
      while (scraping) {
        const began = Date.now();
        const reply = await fetch(`${baton.url}/metrics`);
        if (reply.status !== 200) throw new Error(`/metrics answered ${reply.status}`);
        scrapes.push({ t: (began - start) / 1000, samples: parseSamples(await reply.text()) });
        await sleep(Math.max(0, SCRAPE_MS - (Date.now() - began)));
      }
    })().catch((error: unknown) => {
      scrapeError = error;
    });
    cleanup.defer('the scraper', async () => {
      scraping = false;
      await scraper;
    });

    const completed = (term: number) => (e: Received) => e.type === COMPLETED && termOf(e) === term;
    const activeOf = (e: Received): string => z.object({ active: z.object({ name: z.string() }) }).parse(e.data).active.name;
    await sleep(2000);
    await createService(api, NS, 'web', { app: 'web' }, { 'baton.dev/mode': 'active-standby' });
    let active = activeOf(await sink.until('term 1 completed', completed(1), 30_000));
    const marks: number[] = [];
    for (let k = 1; k <= failovers; k++) {
      await sleep(4000);
      marks.push((Date.now() - start) / 1000);
      await api.setReady(NS, active, false);
      const done = await sink.until(`term ${k + 1} completed`, completed(k + 1), 30_000);
      say(`failover ${k}: ${active} → ${activeOf(done)} (${String(done.data['latencyMs'])} ms to completion)`);
      await sleep(3000);
      // The old active recovers and stays a standby.
      await api.setReady(NS, active, true);
      active = activeOf(done);
    }
    await sleep(4000);
    scraping = false;
    await scraper;
    if (scrapeError !== undefined) throw new Error(`scraping /metrics failed: ${errorText(scrapeError)}`);
    const last = scrapes.at(-1)?.t ?? 0;
    const times = Array.from({ length: Math.floor(last / STEP_S) + 1 }, (_v, k) => k * STEP_S);
    const panels = panelsFrom(dashboard, scrapes, times);
    const file = join(repoRoot(), 'bench', 'results', `${localDate()}-dashboard.svg`);
    writeFileSync(
      file,
      dashboardSvg({
        heading: `${dashboard.title}: drawn from a local run, not Grafana`,
        subheading: [
          `${failovers} real failovers on the local plane (dashed red: the active pod set unready); baton-failover's /metrics scraped every ${SCRAPE_MS} ms for ${last.toFixed(0)} s (${scrapes.length} scrapes).`,
          `Each panel's PromQL from dashboard.json evaluated by bench/promql.ts every ${STEP_S} s, $__rate_interval = ${RATE_INTERVAL_S} s, $function = All; rate/increase without extrapolation to the window's edges.`,
          'As in Prometheus, growth before the first scrape is not seen; the switch counters are exported at 0 from start-up, so every switch after it shows as an increase.',
        ],
        times,
        marks,
        panels,
      }),
    );
    for (const p of panels) say(`${p.title}: ${p.error ? `not drawn (${p.error})` : `${p.series.length} series`}`);
    say(`wrote ${file}`);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await cleanup.run();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:dashboard failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
