// Which Nodes are cordoned, as the API server last said: the fact every decision needs
// (core/cordon.ts) and no event may supply. Each failover instance follows the Nodes
// marked unschedulable with a list and a watch (fieldSelector spec.unschedulable=true: a
// handful of Nodes even in a large cluster, and quiet, since heartbeats of schedulable
// Nodes do not match), so a decision costs no request for it. A get of one Node, made
// when an event claims that Node was cordoned, is folded in too, so that an event that
// outruns this instance's watch still finds the truth. Staleness is bounded by the watch
// and never unsafe: at worst a planned switch comes one event later, or one is made to a
// pod whose Node has just been uncordoned; the single-UID selector holds either way.
import * as k8s from '@kubernetes/client-node';
import type { Observed } from './core/model.js';
import { abortableRequests } from '../../shared/k8s/client.js';
import { classify } from '../../shared/k8s/errors.js';
import { runWatchLoop, streamWatch, type WatchSource } from '../../shared/k8s/watch.js';
import { observedNode, WATCH_SETTINGS } from './cluster.js';
import type { NodeView } from './views.js';

export interface Cordons {
  /** Names of the Nodes known to be cordoned now. */
  names(): ReadonlySet<string>;
  has(name: string): boolean;
  /** A Node as the API server returned it (a get, a list, a watch); an older copy than the one held is ignored. */
  observe(node: Observed<NodeView>): void;
  /** Follows the cordoned Nodes until `signal` aborts; resolves once the first list is in. */
  follow(source: WatchSource<Observed<NodeView>>, signal: AbortSignal, failed: (error: unknown) => void): Promise<void>;
}

const newer = (a: string, b: string): boolean => (/^\d+$/.test(a) && /^\d+$/.test(b) ? BigInt(a) > BigInt(b) : a !== b);

export function createCordons(): Cordons {
  // Every Node seen, cordoned or not, with the version it was seen at: a reply that
  // overtook a newer watch event must not undo it. Bounded by the cluster's Node count.
  const seen = new Map<string, { readonly resourceVersion: string; readonly cordoned: boolean }>();
  let cordoned = new Set<string>();
  const rebuild = (): void => {
    cordoned = new Set([...seen].filter(([, e]) => e.cordoned).map(([name]) => name));
  };
  const set = (name: string, resourceVersion: string, isCordoned: boolean): void => {
    const held = seen.get(name);
    if (held && !newer(resourceVersion, held.resourceVersion)) return;
    seen.set(name, { resourceVersion, cordoned: isCordoned });
    if (isCordoned !== cordoned.has(name)) rebuild();
  };
  const observe = (node: Observed<NodeView>): void => set(node.name, node.resourceVersion, node.unschedulable);
  return {
    names: () => cordoned,
    has: (name) => cordoned.has(name),
    observe,
    follow(source, signal, failed) {
      return new Promise<void>((resolve) => {
        void runWatchLoop(
          source,
          {
            // The list is the whole truth about cordons: a Node it lacks is schedulable
            // (or gone) now, whatever version we last saw it at.
            replace: (items) => {
              const listed = new Set(items.map((n) => n.name));
              for (const [name, e] of [...seen]) if (e.cordoned && !listed.has(name)) seen.set(name, { resourceVersion: e.resourceVersion, cordoned: false });
              for (const node of items) seen.set(node.name, { resourceVersion: node.resourceVersion, cordoned: node.unschedulable });
              rebuild();
            },
            // A Node that stops matching the field selector (uncordoned) arrives as DELETED.
            apply: (event) => set(event.object.name, event.object.resourceVersion, event.type !== 'DELETED' && event.object.unschedulable),
            failed,
          },
          { signal, onListed: resolve },
        );
      });
    },
  };
}

export interface NodeFeedOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly requestTimeoutMs: number;
}

const CORDONED = 'spec.unschedulable=true';

/** List and watch of the cordoned Nodes, as the API server returns them. */
export function cordonedNodeFeed(options: NodeFeedOptions): WatchSource<Observed<NodeView>> {
  const { kubeConfig: kc } = options;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const what = `watch nodes (${CORDONED})`;
  const raw = streamWatch<k8s.V1Node>({
    kubeConfig: kc,
    path: '/api/v1/nodes',
    query: { fieldSelector: CORDONED },
    what,
    requestTimeoutMs: options.requestTimeoutMs,
    ...WATCH_SETTINGS,
  });
  return {
    list: async (signal) => {
      const config = abortableRequests(signal, options.requestTimeoutMs);
      try {
        const list = await core.listNode({ fieldSelector: CORDONED }, config);
        return { items: list.items.map(observedNode), resourceVersion: list.metadata?.resourceVersion ?? '' };
      } catch (error) {
        throw classify(error, `list nodes (${CORDONED})`);
      }
    },
    watch: (resourceVersion, onEvent, signal) =>
      raw(
        resourceVersion,
        (event) => {
          if (event.type === 'BOOKMARK' || event.type === 'ERROR') onEvent(event);
          else onEvent({ type: event.type, object: observedNode(event.object), resourceVersion: event.resourceVersion });
        },
        signal,
      ),
  };
}
