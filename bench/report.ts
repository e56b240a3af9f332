// Turns one run into its three artefacts: the JSON (everything, for machines), the
// Markdown summary (for people and the README) and a hand-drawn SVG of the latency
// distributions (so the repository needs no charting dependency).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../plane/paths.js';
import type { ApproachFigures, Results, TargetCheck } from './results.js';
import { knativeNote } from './knative.js';
import { ms, round } from './util.js';

type Partial = Omit<Results, 'targets'>;

const TARGET_BURST = 200;

export function checkTargets(r: Partial): TargetCheck[] {
  const out: TargetCheck[] = [];
  const baton = r.single.find((a) => a.key === 'baton');
  const ideal = r.single.find((a) => a.key === 'ideal');
  if (baton) {
    out.push({ target: 'single failover p50 ≤ 50 ms', value: ms(baton.latency.p50), met: baton.latency.p50 <= 50 });
    out.push({ target: 'single failover p99 ≤ 150 ms', value: ms(baton.latency.p99), met: baton.latency.p99 <= 150 });
    if (ideal) {
      const ratio = baton.latency.p50 / ideal.latency.p50;
      out.push({ target: 'single failover p50 ≤ 1.5 × ideal p50', value: `${round(ratio, 2)} × (${ms(baton.latency.p50)} vs ${ms(ideal.latency.p50)})`, met: ratio <= 1.5 });
    }
    const c = baton.analysis.cost;
    out.push({ target: '≤ 4 API requests per failover (critical path: up to the switch)', value: `${c.critical} (${c.criticalReads} read, ${c.criticalWrites} write)`, met: c.critical <= 4 });
    out.push({ target: '≤ 4 API requests per failover (all, incl. evidence and completion)', value: `${c.total} (${c.reads} reads, ${c.writes} writes)`, met: c.total <= 4 });
  }
  const direct = r.single.find((a) => a.key === 'direct');
  if (direct && ideal) {
    const ratio = direct.latency.p50 / ideal.latency.p50;
    out.push({ target: 'direct mode: single failover p50 ≤ 0.9 × ideal p50', value: `${round(ratio, 2)} × (${ms(direct.latency.p50)} vs ${ms(ideal.latency.p50)})`, met: ratio <= 0.9 });
    out.push({ target: 'direct mode: single failover p99 < ideal p99', value: `${ms(direct.latency.p99)} vs ${ms(ideal.latency.p99)}`, met: direct.latency.p99 < ideal.latency.p99 });
  }
  const directBurst = r.burst.direct;
  if (directBurst) {
    const scaled = directBurst.services === TARGET_BURST ? '' : ` (ran ${directBurst.services}, target is for ${TARGET_BURST})`;
    const vs = r.burst.ideal ? `; ideal ${ms(r.burst.ideal.convergedMs)}` : '';
    out.push({ target: `direct mode: burst of ${TARGET_BURST} converged ≤ 2 s`, value: `${ms(directBurst.convergedMs)}${scaled}${vs}`, met: directBurst.convergedMs <= 2_000 && directBurst.services >= TARGET_BURST });
  }
  const broker = r.burst.directBroker;
  if (broker) {
    out.push({ target: `direct mode behind a Broker stand-in: burst of ${TARGET_BURST} converged ≤ 2 s`, value: `${ms(broker.convergedMs)}${broker.services === TARGET_BURST ? '' : ` (ran ${broker.services})`}`, met: broker.convergedMs <= 2_000 && broker.services >= TARGET_BURST });
  }
  const burst = r.burst.baton;
  if (burst) {
    const scaled = burst.services === TARGET_BURST ? '' : ` (ran ${burst.services}, target is for ${TARGET_BURST})`;
    out.push({ target: `burst of ${TARGET_BURST} converged ≤ 2 s`, value: `${ms(burst.convergedMs)}${scaled}`, met: burst.convergedMs <= 2_000 && burst.services >= TARGET_BURST });
  }
  if (r.noise) {
    out.push({ target: '≥ 5,000 irrelevant events/s per instance', value: `${Math.round(r.noise.perSecond).toLocaleString('en-US')} /s`, met: r.noise.perSecond >= 5_000 });
    out.push({ target: '0 API requests for irrelevant events', value: String(r.noise.apiRequests), met: r.noise.apiRequests === 0 });
  }
  if (r.startup) {
    out.push({ target: 'start-up to ready ≤ 300 ms (median of 5)', value: `${ms(r.startup.ready.p50)} (max ${ms(r.startup.ready.max)})`, met: r.startup.ready.p50 <= 300 });
  }
  const rss = [r.noise?.peakRssMb, r.batonPeakRssMb, r.startup?.peakRssMb].filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (rss.length > 0) {
    const peak = Math.max(...rss);
    out.push({ target: 'peak RSS ≤ 100 MB', value: `${peak} MB (noise instance ${r.noise?.peakRssMb ?? '–'}, adapter-fed instance ${r.batonPeakRssMb ?? '–'})`, met: peak <= 100 });
  }
  return out;
}

export function writeResults(r: Results): string[] {
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const base = r.options.tag ? `${r.date}-${r.options.tag}` : r.date;
  const json = join(dir, `${base}.json`);
  const md = join(dir, `${base}.md`);
  const svg = join(dir, `${base}-latency.svg`);
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(svg, latencySvg(r.single));
  writeFileSync(md, markdown(r, `${base}-latency.svg`));
  return [json, md, svg];
}

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function markdown(r: Results, chart: string): string {
  const m = r.machine;
  const parts: string[] = [];
  parts.push(`# baton bench, ${r.date}${r.options.tag ? ` (${r.options.tag})` : ''}`);
  parts.push(
    `Machine: ${m.nproc} CPU (${m.cpuModel}), ${m.memoryGb} GB RAM, ${m.os}; Node.js ${m.node}; Kubernetes ${m.kube} (local plane: etcd, kube-apiserver with audit log, controller-manager, scheduler, kwok). ` +
      `1-min load average at start ${m.loadAtStart}, at the end ${r.loadAtEnd} (other work shares the machine). Run took ${r.durationS} s. Options: ${r.options.reps} reps, ${r.options.loop10Reps} reps for the 10 s loop, burst ${r.options.burst}, noise ${r.options.noiseSeconds} s.`,
  );

  if (r.knative) parts.push(knativeNote(r.knative.deploySeconds));

  parts.push('## Targets');
  parts.push(table(['target', 'measured', ''], r.targets.map((t) => [t.target, t.value, t.met ? 'met' : '**missed**'])));

  parts.push('## 1. Single failover');
  parts.push(
    'From the moment the status PATCH setting the active pod Ready=False is sent until an independent EndpointSlice watch sees exactly one ready pod, other than the old one. ' +
      'Each approach has its own namespace, a 3-replica Deployment and one Service, on the same plane in the same run; between repetitions the failed pod is made ready again and the system settles.',
  );
  parts.push(
    table(
      ['approach', 'n', 'p50', 'p90', 'p99', 'max', 'how'],
      r.single.map((a) => [a.label, String(a.latency.n), ms(a.latency.p50), ms(a.latency.p90), ms(a.latency.p99), ms(a.latency.max), a.note]),
    ),
  );
  if (r.ratios) {
    parts.push(
      table(
        ['ratio', 'p50', 'p99'],
        [
          ['baton / ideal', `${r.ratios.batonToIdealP50} ×`, `${r.ratios.batonToIdealP99} ×`],
          ...(r.ratios.directToIdealP50 !== undefined ? [['baton, direct mode / ideal', `${r.ratios.directToIdealP50} ×`, `${r.ratios.directToIdealP99 ?? '–'} ×`]] : []),
          ['baton / label loop 1 s', `${r.ratios.batonToLoop1sP50} ×`, `${r.ratios.batonToLoop1sP99} ×`],
          ['baton / label loop 10 s', `${r.ratios.batonToLoop10sP50} ×`, '–'],
        ],
      ),
    );
  }
  parts.push(`![CDF of single-failover latency](${chart})`);

  parts.push('### Where the time goes');
  parts.push(
    'Each failover rebuilt from the API server audit log (request received / response complete, microseconds), the function log (arrival = log time − duration) and the bench marks. Medians of each segment; they add up to roughly the median total.',
  );
  for (const a of r.single) {
    if (a.analysis.breakdown.segments.length === 0) continue;
    const missing = Object.entries(a.analysis.breakdown.missing).map(([label, n]) => `"${label}" not found in ${n}`);
    parts.push(`**${a.label}** (${a.analysis.breakdown.reps} of ${a.latency.n} repetitions fully traced${missing.length ? `; ${missing.join(', ')}` : ''})`);
    parts.push(table(['segment', 'p50', 'p90'], a.analysis.breakdown.segments.map((s) => [s.label, ms(s.p50), ms(s.p90)])));
  }

  parts.push('## 2. Burst');
  const bursts = (['baton', 'direct', 'directBroker', 'knative', 'ideal'] as const).flatMap((k) => (r.burst[k] ? [[k, r.burst[k]] as const] : []));
  if (bursts.length > 0) {
    parts.push(`${r.options.burst} Services, each with two bare pods; every active pod's Ready=False is sent concurrently on pre-opened connections. Latency per Service from its own write.`);
    parts.push(
      table(
        ['approach', 'services', 'all converged', 'writes acknowledged', 'p50', 'p90', 'p99', 'max'],
        bursts.map(([k, b]) => [k, String(b.services), ms(b.convergedMs), ms(b.writesDoneMs), ms(b.latency.p50), ms(b.latency.p90), ms(b.latency.p99), ms(b.latency.max)]),
      ),
    );
    for (const [k, b] of bursts) {
      if (!b.breakdown || b.breakdown.segments.length === 0) continue;
      parts.push(`**${k}**, per Service (${b.breakdown.reps} of ${b.services} fully traced)`);
      parts.push(table(['segment', 'p50', 'p90'], b.breakdown.segments.map((s) => [s.label, ms(s.p50), ms(s.p90)])));
      if (b.handlerMs) {
        parts.push(
          `baton answered each of these pod events in p50 ${ms(b.handlerMs.p50)}, p90 ${ms(b.handlerMs.p90)}. The ApiServerSource adapter delivers the events of one watch (here: Pods of one namespace) one at a time and waits for each reply, so the burst's readiness changes queue behind each other, and behind the pod label writes baton makes after each switch: the delivery segment grows with the position in the queue.`,
        );
      }
    }
  } else parts.push('Not measured (see errors).');

  parts.push('## 3. Noise');
  if (r.noise) {
    const n = r.noise;
    parts.push(
      `Update events of pods that no opted-in Service selects, in the adapter's binary encoding, built from a real pod of the plane (${n.concurrency} requests in flight on keep-alive connections, closed loop, after 1 s of warm-up) to one dedicated failover instance. API requests counted by the API server's audit log for the baton-failover ServiceAccount during the window.`,
    );
    parts.push(
      table(
        ['handled', 'events/s', 'reply p50', 'reply p99', 'function CPU', 'CPU per event', 'peak RSS', 'API requests'],
        [[String(n.ignored), String(Math.round(n.perSecond)), ms(n.replyMs.p50), ms(n.replyMs.p99), `${n.cpuSeconds} s (${n.coresUsed} cores)`, `${n.cpuPerEventUs} µs`, `${n.peakRssMb} MB`, String(n.apiRequests)]],
      ),
    );
    parts.push(`The load generator shares the machine: it used ${n.generatorCpuSeconds} s of CPU in the same window.`);
  } else parts.push('Not measured (see errors).');

  parts.push('## 4. Cost per failover');
  parts.push(
    'Requests counted in the audit log between the readiness write and the end of the settle period, per failover (medians). "Critical path" is every request up to the one that moved the traffic. baton is identified by its ServiceAccount; the ideal and the loop by their namespace (the bench\'s own status writes excluded).',
  );
  parts.push(
    table(
      ['approach', 'total', 'reads', 'writes', 'critical path', 'max total', 'mean per failover, by kind'],
      r.single.map((a) => {
        const c = a.analysis.cost;
        const kinds = Object.entries(c.byKind).map(([k, v]) => `${k} ${v}`).join(', ');
        return [a.label, String(c.total), String(c.reads), String(c.writes), `${c.critical} (${c.criticalReads} r, ${c.criticalWrites} w)`, String(c.maxTotal), kinds];
      }),
    ),
  );

  parts.push('## 5. Start-up');
  if (r.startup) {
    parts.push(
      '`node dist/functions/serve.js failover` (the container entry point) with the baton-failover ServiceAccount: spawn → first 200 from /readyz (polled every 2 ms) → reply to one irrelevant pod event on a new connection. ' +
        'The first API request (the list of opted-in Services that readiness waits for) is timed by the audit log.',
    );
    parts.push(
      table(
        ['run', 'spawn → first API request', 'index list', 'to ready', 'ready → first event handled', 'total'],
        r.startup.runs.map((s, i) => [String(i + 1), ms(s.firstRequestMs), ms(s.indexListMs), ms(s.readyMs), ms(s.firstEventMs), ms(s.totalMs)]),
      ),
    );
    parts.push(`For reference, on this machine during the run: \`node -e ''\` takes ${ms(r.startup.nodeBootMs)} from spawn to exit, and a Node process that only imports the failover function's modules ${ms(r.startup.importMs)}. Peak RSS of a freshly started instance: ${r.startup.peakRssMb} MB.`);
  } else parts.push('Not measured (see errors).');

  if (r.errors.length > 0) {
    parts.push('## Errors');
    parts.push(r.errors.map((e) => `- ${e}`).join('\n'));
  }
  return `${parts.join('\n\n')}\n`;
}

const COLOURS: Readonly<Record<string, string>> = { ideal: '#2b8a3e', baton: '#1864ab', direct: '#9c36b5', knative: '#c2255c', knativeCold: '#f08c00', loop1s: '#e8590c', loop10s: '#868e96' };

const STEPS = [1, 2, 5] as const;

/** The largest 1, 2 or 5 × 10^k not above `v`: axis ends that read well. */
function niceBelow(v: number): number {
  const decade = 10 ** Math.floor(Math.log10(v));
  return decade * ([...STEPS].reverse().find((k) => decade * k <= v) ?? 1);
}

export function niceAbove(v: number): number {
  const decade = 10 ** Math.floor(Math.log10(v));
  const k = STEPS.find((s) => decade * s >= v);
  return k === undefined ? decade * 10 : decade * k;
}

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Empirical CDFs on a logarithmic time axis: the approaches differ by orders of magnitude. */
export function latencySvg(series: readonly ApproachFigures[]): string {
  const shown = series.filter((s) => s.samples.length > 0);
  const width = 800;
  const height = 440;
  const m = { left: 64, right: 24, top: 40, bottom: 112 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const all = shown.flatMap((s) => s.samples).filter((v) => v > 0);
  const lo = niceBelow(Math.max(0.1, Math.min(...all, 10)));
  const hi = niceAbove(Math.max(...all, 100));
  const x = (v: number): number => m.left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * w;
  const y = (p: number): number => m.top + (1 - p) * h;
  const f = (v: number): string => v.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="15" font-weight="600" fill="#212529">Single failover: Ready=False written → EndpointSlice shows only the new pod</text>`);
  for (let decade = 10 ** Math.floor(Math.log10(lo)); decade <= hi; decade *= 10) {
    for (const k of [1, 2, 5]) {
      const v = decade * k;
      if (v < lo) continue;
      if (v > hi) break;
      const major = k === 1;
      out.push(`<line x1="${f(x(v))}" y1="${m.top}" x2="${f(x(v))}" y2="${m.top + h}" stroke="${major ? '#ced4da' : '#f1f3f5'}"/>`);
      const label = v >= 1000 ? `${v / 1000} s` : `${v} ms`;
      out.push(`<text x="${f(x(v))}" y="${m.top + h + 16}" text-anchor="middle" fill="${major ? '#495057' : '#adb5bd'}">${esc(label)}</text>`);
    }
  }
  for (const p of [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) {
    out.push(`<line x1="${m.left}" y1="${f(y(p))}" x2="${m.left + w}" y2="${f(y(p))}" stroke="${p === 0.5 ? '#ced4da' : '#f1f3f5'}"/>`);
    // 100 % would sit on top of the p99 label; the frame marks it anyway.
    if (p < 1) out.push(`<text x="${m.left - 8}" y="${f(y(p) + 4)}" text-anchor="end" fill="#495057">${p === 0.99 ? 'p99' : `${Math.round(p * 100)}%`}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="#868e96"/>`);
  out.push(`<text x="${m.left + w / 2}" y="${m.top + h + 36}" text-anchor="middle" fill="#212529">latency (log scale)</text>`);
  out.push(`<text transform="translate(16 ${m.top + h / 2}) rotate(-90)" text-anchor="middle" fill="#212529">fraction of failovers</text>`);
  shown.forEach((s, i) => {
    const sorted = [...s.samples].sort((a, b) => a - b);
    const n = sorted.length;
    let d = `M${f(x(sorted[0]!))},${f(y(0))}`;
    sorted.forEach((v, k) => {
      d += ` H${f(x(v))} V${f(y((k + 1) / n))}`;
    });
    const colour = COLOURS[s.key] ?? '#000000';
    const dash = s.key === 'loop10s' ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`);
    const lx = m.left + (i % 2) * (w / 2);
    const ly = height - 48 + Math.floor(i / 2) * 20;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" fill="#212529">${esc(`${s.label}: p50 ${ms(s.latency.p50)}, p99 ${ms(s.latency.p99)} (n=${n})`)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
