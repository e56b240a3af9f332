// Draws the dashboard's panels, laid out by their gridPos, in the plain style of the
// bench's latency chart. Only what the evaluator produced is drawn; a panel it could not
// evaluate shows why instead of a chart.
import { esc, niceAbove } from './report.js';

export interface PanelSeries {
  readonly name: string;
  /** One value per evaluation time; undefined where the expression gave nothing. */
  readonly values: ReadonlyArray<number | undefined>;
}

export interface PanelPicture {
  readonly title: string;
  readonly type: string;
  readonly unit: string;
  readonly grid: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly series: readonly PanelSeries[];
  readonly notes: readonly string[];
  /** Why the panel could not be evaluated, when it could not. */
  readonly error?: string;
}

export interface Picture {
  readonly heading: string;
  readonly subheading: readonly string[];
  /** Evaluation times, seconds since the run began. */
  readonly times: readonly number[];
  /** When a pod was set unready (seconds), drawn as dashed lines. */
  readonly marks: readonly number[];
  readonly panels: readonly PanelPicture[];
}

const COLOURS = ['#1c7ed6', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#c2255c', '#5c940d'];
const COL = 50;
const ROW = 36;
const TOP = 84;
const f = (v: number): string => v.toFixed(1);

/** A value in the panel's Grafana unit, short. */
export function formatValue(v: number, unit: string): string {
  const n = (x: number): string => (x === 0 ? '0' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : Number(x.toPrecision(2)).toString());
  if (unit === 's') return v !== 0 && Math.abs(v) < 1 ? `${n(v * 1000)} ms` : `${n(v)} s`;
  if (unit === 'bytes') return `${n(v / 2 ** 20)} MiB`;
  if (unit === 'reqps') return `${n(v)}/s`;
  return n(v);
}

function panelSvg(p: PanelPicture, times: readonly number[], marks: readonly number[]): string[] {
  const x0 = p.grid.x * COL + 8;
  const y0 = TOP + p.grid.y * ROW + 8;
  const width = p.grid.w * COL - 16;
  const height = p.grid.h * ROW - 16;
  const out = [`<rect x="${x0}" y="${y0}" width="${width}" height="${height}" fill="#ffffff" stroke="#dee2e6" rx="4"/>`];
  out.push(`<text x="${x0 + 10}" y="${y0 + 20}" font-size="13" font-weight="600" fill="#212529">${esc(p.title)}</text>`);
  const notes = p.error ? [`Not drawn: ${p.error}`, ...p.notes] : p.notes;
  notes.forEach((line, k) => out.push(`<text x="${x0 + 10}" y="${y0 + height - 8 - (notes.length - 1 - k) * 14}" font-size="10" fill="#868e96">${esc(line)}</text>`));
  if (p.error) return out;
  const legendRows = Math.min(p.series.length, 6);
  const m = { left: 64, top: 34, bottom: 22 + Math.ceil(legendRows / 2) * 15 + notes.length * 14 };
  const w = width - m.left - 14;
  const h = height - m.top - m.bottom;
  const ax = x0 + m.left;
  const ay = y0 + m.top;
  if (p.type === 'stat') {
    const last = p.series[0]?.values.findLast((v) => v !== undefined);
    out.push(`<text x="${x0 + width / 2}" y="${ay + h / 2 + 16}" text-anchor="middle" font-size="44" font-weight="600" fill="#2f9e44">${last === undefined ? 'no data' : esc(formatValue(last, p.unit))}</text>`);
    out.push(`<text x="${x0 + width / 2}" y="${ay + h / 2 + 40}" text-anchor="middle" fill="#495057">${esc(p.series[0]?.name ?? '')} (last value)</text>`);
    return out;
  }
  const all = p.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  // An all-zero panel keeps a unit axis rather than one scaled to nothing.
  const peakOfAll = Math.max(0, ...all);
  const top = peakOfAll > 0 ? niceAbove(peakOfAll) : 1;
  const t0 = times[0] ?? 0;
  const t1 = Math.max(times.at(-1) ?? 1, t0 + 1);
  const x = (t: number): number => ax + ((t - t0) / (t1 - t0)) * w;
  const y = (v: number): number => ay + (1 - v / top) * h;
  for (const v of [0, top / 2, top]) {
    out.push(`<line x1="${ax}" y1="${f(y(v))}" x2="${ax + w}" y2="${f(y(v))}" stroke="#f1f3f5"/>`);
    out.push(`<text x="${ax - 6}" y="${f(y(v) + 4)}" text-anchor="end" font-size="10" fill="#495057">${esc(formatValue(v, p.unit))}</text>`);
  }
  const step = niceAbove((t1 - t0) / 6);
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(`<text x="${f(x(t))}" y="${ay + h + 13}" text-anchor="middle" font-size="10" fill="#868e96">${t} s</text>`);
  for (const t of marks) out.push(`<line x1="${f(x(t))}" y1="${ay}" x2="${f(x(t))}" y2="${ay + h}" stroke="#fa5252" stroke-dasharray="3 3" stroke-opacity="0.6"/>`);
  out.push(`<rect x="${ax}" y="${ay}" width="${w}" height="${h}" fill="none" stroke="#ced4da"/>`);
  if (all.length === 0) out.push(`<text x="${ax + w / 2}" y="${ay + h / 2}" text-anchor="middle" fill="#868e96">no data points in this run</text>`);
  p.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    let d = '';
    let pen = false;
    s.values.forEach((v, k) => {
      if (v === undefined || !Number.isFinite(v)) return void (pen = false);
      d += `${pen ? 'L' : 'M'}${f(x(times[k]!))},${f(y(v))} `;
      pen = true;
    });
    // A value with gaps on both sides would be an invisible move; draw it as a dot.
    const dots = s.values.flatMap((v, k) => (v !== undefined && Number.isFinite(v) && s.values[k - 1] === undefined && s.values[k + 1] === undefined ? [`<circle cx="${f(x(times[k]!))}" cy="${f(y(v))}" r="2" fill="${colour}"/>`] : []));
    if (d) out.push(`<path d="${d.trim()}" fill="none" stroke="${colour}" stroke-width="1.5"/>`, ...dots);
    if (i >= legendRows) return;
    const lx = ax + (i % 2) * (w / 2);
    const ly = ay + h + 30 + Math.floor(i / 2) * 15;
    const peak = Math.max(...s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
    out.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="3" fill="${colour}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly - 3}" font-size="10" fill="#212529">${esc(`${s.name}${Number.isFinite(peak) ? ` (max ${formatValue(peak, p.unit)})` : ''}`)}</text>`);
  });
  if (p.series.length > legendRows) out.push(`<text x="${ax + w}" y="${ay - 4}" text-anchor="end" font-size="10" fill="#868e96">${p.series.length - legendRows} more series not in the legend</text>`);
  return out;
}

export function dashboardSvg(pic: Picture): string {
  const width = 24 * COL;
  const height = TOP + Math.max(...pic.panels.map((p) => p.grid.y + p.grid.h)) * ROW + 8;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#f8f9fa"/>`,
    `<text x="8" y="24" font-size="16" font-weight="600" fill="#212529">${esc(pic.heading)}</text>`,
    ...pic.subheading.map((line, k) => `<text x="8" y="${44 + k * 15}" font-size="11" fill="#495057">${esc(line)}</text>`),
  ];
  for (const p of pic.panels) out.push(...panelSvg(p, pic.times, pic.marks));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
