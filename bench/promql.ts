// A deliberately small PromQL evaluator for drawing the shipped Grafana dashboard from
// scrapes taken during a local run. It knows only the shapes dashboard.json uses:
// selectors with = and =~ matchers, rate() and increase() over a range, sum/max with an
// optional `by`, histogram_quantile(), and `+` between two vectors. Anything else is
// refused with an error naming what was not understood, so a panel is never drawn from
// a guess. rate() and increase() take the difference between the first and last samples
// in the window (counter resets handled) without Prometheus's extrapolation to the
// window's edges; a series that first appears inside a window contributes from its
// first sample on, as in Prometheus.
import type { Sample } from '../test/fixtures/prom-text.js';

export interface Scrape {
  /** Seconds since the start of the run. */
  readonly t: number;
  readonly samples: readonly Sample[];
}

type Labels = Readonly<Record<string, string>>;
export interface Element {
  readonly labels: Labels;
  readonly value: number;
}

interface Matcher {
  readonly name: string;
  readonly regex: boolean;
  readonly value: string;
}
interface Selector {
  readonly metric: string;
  readonly matchers: readonly Matcher[];
}
export type Expr =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'instant'; readonly selector: Selector }
  | { readonly kind: 'range'; readonly fn: 'rate' | 'increase'; readonly selector: Selector; readonly seconds: number }
  | { readonly kind: 'aggregate'; readonly op: 'sum' | 'max'; readonly by: readonly string[] | undefined; readonly arg: Expr }
  | { readonly kind: 'quantile'; readonly q: number; readonly arg: Expr }
  | { readonly kind: 'add'; readonly left: Expr; readonly right: Expr };

/** Grafana's variables, as the dashboard uses them: `$function` as "All", `$__rate_interval` given. */
export function substitute(expr: string, rateIntervalSeconds: number): string {
  return expr.replaceAll('$__rate_interval', `${Math.round(rateIntervalSeconds * 1000)}ms`).replaceAll('$function', '.*');
}

const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:ms|s|m|h)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)|("(?:[^"\\]|\\.)*")|(=~|[(){}[\],=+]))/y;

function tokenize(text: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`not understood at "${text.slice(at, at + 12)}"`);
    out.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
  }
  return out;
}

const UNIT: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Parses the subset above; throws for anything outside it. */
export function parse(text: string): Expr {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const take = (want?: string): string => {
    const tok = tokens[i++];
    if (tok === undefined) throw new Error('expression ends early');
    if (want !== undefined && tok !== want) throw new Error(`expected "${want}", found "${tok}"`);
    return tok;
  };
  const selector = (): Selector => {
    const metric = take();
    if (!/^[a-zA-Z_:]/.test(metric)) throw new Error(`expected a metric name, found "${metric}"`);
    const matchers: Matcher[] = [];
    if (peek() === '{') {
      take('{');
      while (peek() !== '}') {
        const name = take();
        const op = take();
        if (op !== '=' && op !== '=~') throw new Error(`matcher "${op}" is not supported`);
        matchers.push({ name, regex: op === '=~', value: JSON.parse(take()) as string });
        if (peek() === ',') take(',');
      }
      take('}');
    }
    return { metric, matchers };
  };
  const term = (): Expr => {
    const head = peek();
    if (head !== undefined && /^\d/.test(head)) return { kind: 'number', value: Number(take()) };
    if (head === 'rate' || head === 'increase') {
      take();
      take('(');
      const sel = selector();
      take('[');
      const d = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(take());
      if (!d) throw new Error('expected a range duration');
      take(']');
      take(')');
      return { kind: 'range', fn: head, selector: sel, seconds: Number(d[1]) * UNIT[d[2]!]! };
    }
    if (head === 'sum' || head === 'max') {
      take();
      let by: string[] | undefined;
      if (peek() === 'by') {
        take('by');
        take('(');
        by = [];
        while (peek() !== ')') {
          by.push(take());
          if (peek() === ',') take(',');
        }
        take(')');
      }
      take('(');
      const arg = expr();
      take(')');
      return { kind: 'aggregate', op: head, by, arg };
    }
    if (head === 'histogram_quantile') {
      take();
      take('(');
      const q = Number(take());
      take(',');
      const arg = expr();
      take(')');
      return { kind: 'quantile', q, arg };
    }
    if (head !== undefined && /^[a-zA-Z_:]/.test(head) && tokens[i + 1] === '(') throw new Error(`function or aggregation "${head}" is not supported`);
    return { kind: 'instant', selector: selector() };
  };
  const expr = (): Expr => {
    let left = term();
    while (peek() === '+') {
      take('+');
      left = { kind: 'add', left, right: term() };
    }
    return left;
  };
  const result = expr();
  if (i < tokens.length) throw new Error(`unexpected "${tokens[i]}"`);
  return result;
}

function matches(sel: Selector, s: Sample): boolean {
  if (s.name !== sel.metric) return false;
  return sel.matchers.every((m) => {
    const v = s.labels[m.name] ?? '';
    return m.regex ? new RegExp(`^(?:${m.value})$`).test(v) : v === m.value;
  });
}

const key = (labels: Labels): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));

/** The counter's growth across the points, a drop counted as a restart from zero. */
export function growth(values: readonly number[]): number {
  let total = 0;
  for (let k = 1; k < values.length; k++) total += values[k]! >= values[k - 1]! ? values[k]! - values[k - 1]! : values[k]!;
  return total;
}

/**
 * Prometheus's bucket interpolation: the q-th rank located in the cumulative buckets,
 * linear within the bucket, the highest finite bound when it falls in +Inf, NaN with
 * no observations.
 */
export function bucketQuantile(q: number, buckets: ReadonlyArray<{ le: number; count: number }>): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (sorted.length < 2 || total <= 0 || sorted.at(-1)!.le !== Infinity) return NaN;
  const rank = q * total;
  const k = sorted.findIndex((b) => b.count >= rank);
  if (k === sorted.length - 1) return sorted[k - 1]!.le;
  const lower = k === 0 ? 0 : sorted[k - 1]!.le;
  const below = k === 0 ? 0 : sorted[k - 1]!.count;
  const inBucket = sorted[k]!.count - below;
  return inBucket === 0 ? lower : lower + (sorted[k]!.le - lower) * ((rank - below) / inBucket);
}

/** The expression's instant vector at time `t` (seconds), from the scrapes (sorted by time). */
export function evaluate(e: Expr, scrapes: readonly Scrape[], t: number): Element[] {
  switch (e.kind) {
    case 'number':
      return [{ labels: {}, value: e.value }];
    case 'instant': {
      // The newest scrape at or before t; a series it lacks has gone stale.
      const last = [...scrapes].reverse().find((s) => s.t <= t);
      return (last?.samples ?? []).filter((s) => matches(e.selector, s)).map((s) => ({ labels: withoutName(s.labels), value: s.value }));
    }
    case 'range': {
      const window = scrapes.filter((s) => s.t > t - e.seconds && s.t <= t);
      const series = new Map<string, { labels: Labels; points: Array<{ t: number; v: number }> }>();
      for (const s of window) {
        for (const sample of s.samples.filter((x) => matches(e.selector, x))) {
          const k = key(sample.labels);
          const entry = series.get(k) ?? { labels: withoutName(sample.labels), points: [] };
          entry.points.push({ t: s.t, v: sample.value });
          series.set(k, entry);
        }
      }
      return [...series.values()]
        .filter((x) => x.points.length >= 2)
        .map((x) => {
          const inc = growth(x.points.map((p) => p.v));
          return { labels: x.labels, value: e.fn === 'increase' ? inc : inc / (x.points.at(-1)!.t - x.points[0]!.t) };
        });
    }
    case 'aggregate': {
      const groups = new Map<string, { labels: Labels; values: number[] }>();
      for (const el of evaluate(e.arg, scrapes, t)) {
        const labels = Object.fromEntries((e.by ?? []).flatMap((l) => (el.labels[l] === undefined ? [] : [[l, el.labels[l]]])));
        const k = key(labels);
        const g = groups.get(k) ?? { labels, values: [] };
        g.values.push(el.value);
        groups.set(k, g);
      }
      return [...groups.values()].map((g) => ({ labels: g.labels, value: e.op === 'sum' ? g.values.reduce((a, b) => a + b, 0) : Math.max(...g.values) }));
    }
    case 'quantile': {
      const groups = new Map<string, { labels: Labels; buckets: Array<{ le: number; count: number }> }>();
      for (const el of evaluate(e.arg, scrapes, t)) {
        const { le, ...rest } = el.labels;
        if (le === undefined) continue;
        const k = key(rest);
        const g = groups.get(k) ?? { labels: rest, buckets: [] };
        g.buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: el.value });
        groups.set(k, g);
      }
      return [...groups.values()].map((g) => ({ labels: g.labels, value: bucketQuantile(e.q, g.buckets) })).filter((x) => !Number.isNaN(x.value));
    }
    case 'add': {
      // One-to-one matching on identical label sets, as Prometheus does by default.
      const right = new Map(evaluate(e.right, scrapes, t).map((el) => [key(el.labels), el.value]));
      return evaluate(e.left, scrapes, t).flatMap((el) => {
        const r = right.get(key(el.labels));
        return r === undefined ? [] : [{ labels: el.labels, value: el.value + r }];
      });
    }
  }
}

function withoutName(labels: Labels): Labels {
  const { __name__: _name, ...rest } = labels;
  return rest;
}

/** Grafana's legend: `{{label}}` replaced by the series' value of it. */
export function legend(format: string | undefined, labels: Labels): string {
  if (!format) return key(labels);
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, name: string) => labels[name] ?? '');
}

/** Which operations beyond rate/increase/sum by/histogram_quantile an expression uses. */
export function extras(e: Expr): string[] {
  switch (e.kind) {
    case 'number':
    case 'instant':
      return e.kind === 'instant' ? ['a bare gauge selector'] : [];
    case 'range':
      return [];
    case 'aggregate':
      return [...(e.op === 'max' ? [e.by ? 'max by' : 'max'] : []), ...extras(e.arg)];
    case 'quantile':
      return extras(e.arg);
    case 'add':
      return ['vector + vector', ...extras(e.left), ...extras(e.right)];
  }
}
