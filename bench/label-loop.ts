// The label-toggling loop from the active/passive article, in TypeScript instead of
// kubectl and curl, with the same logic: every interval, look at the active pod (and
// the others); if the active is unhealthy and another is healthy, demote the old one
// (role=passive) and then promote the new one (role=active) — two separate patches.
// The Service selects role=active. Health is the pod's Ready condition, read with a
// GET per pod, standing in for the article's curl of each pod.
import { isReady, type Api, type PodLike } from './api.js';
import { now } from './util.js';

export const ROLE_LABEL = 'role';

export interface LoopSwitch {
  readonly from: string;
  readonly to: string;
  readonly tickStartedAt: number;
  readonly demotedAt: number;
  readonly promotedAt: number;
}

export interface LabelLoop {
  readonly intervalMs: number;
  readonly ticks: number;
  readonly switches: readonly LoopSwitch[];
  readonly errors: readonly string[];
  active(): string;
  stop(): Promise<void>;
}

export interface LabelLoopOptions {
  readonly namespace: string;
  readonly pods: readonly string[];
  readonly intervalMs: number;
  /** The loop ends by itself after this long, whatever happens to the caller. */
  readonly maxRunMs: number;
}

/** Labels the first pod active and the rest passive, then starts the loop. */
export async function startLabelLoop(api: Api, options: LabelLoopOptions): Promise<LabelLoop> {
  const { namespace, pods, intervalMs } = options;
  const podPath = (name: string): string => `/api/v1/namespaces/${namespace}/pods/${name}`;
  const setRole = (name: string, role: 'active' | 'passive'): Promise<void> => api.patch(podPath(name), { metadata: { labels: { [ROLE_LABEL]: role } } }, 'merge');
  let active = pods[0]!;
  for (const p of pods) await setRole(p, p === active ? 'active' : 'passive');

  const switches: LoopSwitch[] = [];
  const errors: string[] = [];
  let ticks = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const maxTicks = Math.ceil(options.maxRunMs / intervalMs) + 1;
  const endBy = Date.now() + options.maxRunMs;

  const tick = async (): Promise<void> => {
    const startedAt = now();
    const current = await api.get<PodLike>(podPath(active));
    // The article checks the passive pod on every pass as well, healthy active or not.
    const others: PodLike[] = [];
    for (const p of pods) if (p !== active) others.push(await api.get<PodLike>(podPath(p)));
    if (isReady(current)) return;
    const next = others.find(isReady);
    if (!next) return;
    const from = active;
    await setRole(from, 'passive');
    const demotedAt = now();
    await setRole(next.metadata.name, 'active');
    active = next.metadata.name;
    switches.push({ from, to: active, tickStartedAt: startedAt, demotedAt, promotedAt: now() });
  };

  const loop = (async () => {
    while (!stopped && ticks < maxTicks && Date.now() < endBy) {
      ticks += 1;
      await tick().catch((error: unknown) => void errors.push(String(error)));
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();

  return {
    intervalMs,
    get ticks() {
      return ticks;
    },
    switches,
    errors,
    active: () => active,
    stop: async () => {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
