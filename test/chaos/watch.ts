// A watch for the chaos judge that survives an apiserver restart: it lists, follows
// events, resumes from the last resourceVersion it saw after a disconnect, and re-lists
// when the server no longer has that version (a "gap": states in between are unseen).
// The judge keeps its own structural types: it trusts no type of the code it judges.
import * as k8s from '@kubernetes/client-node';
import type { ReadyEndpoint } from './invariant.js';

export interface MetaLike {
  readonly name?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface WatchedSlice {
  readonly metadata?: MetaLike;
  readonly endpoints?: ReadonlyArray<{
    readonly addresses?: readonly string[];
    readonly conditions?: { readonly ready?: boolean | null };
    readonly targetRef?: { readonly name?: string; readonly uid?: string };
  }> | null;
}

export interface WatchedService {
  readonly metadata?: MetaLike;
  readonly spec?: { readonly selector?: Record<string, string> };
}

export interface WatchedPod {
  readonly metadata?: MetaLike & { readonly deletionTimestamp?: unknown };
  readonly status?: { readonly phase?: string; readonly conditions?: ReadonlyArray<{ readonly type?: string; readonly status?: string }> | null };
}

export function healthy(pod: WatchedPod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export interface StatusLike {
  readonly code?: number;
}

export const SERVICE_NAME = 'kubernetes.io/service-name';

export interface ResilientWatch {
  readonly reconnects: number;
  readonly relists: number;
  stop(): void;
}

/**
 * A watch that lists first, then follows events, and on any disconnect resumes from
 * the last resourceVersion it saw (bookmarks keep it fresh); on 410 Gone it re-lists.
 */
export async function resilientWatch<T extends { metadata?: MetaLike }>(
  kc: k8s.KubeConfig,
  path: string,
  list: () => Promise<{ items: T[]; resourceVersion: string }>,
  onList: (items: readonly T[]) => void,
  onEvent: (type: string, object: T) => void,
): Promise<ResilientWatch> {
  const watch = new k8s.Watch(kc);
  let stopped = false;
  let resourceVersion = '';
  let controller: AbortController | undefined;
  let reconnects = 0;
  let relists = 0;

  const relist = async (): Promise<void> => {
    const result = await list();
    resourceVersion = result.resourceVersion;
    onList(result.items);
  };

  /** Resolves when the connection ends; true when it delivered anything at all. */
  const connect = async (): Promise<boolean> => {
    let gone = false;
    let delivered = false;
    await new Promise<void>((resolve) => {
      void watch
        .watch(
          path,
          { allowWatchBookmarks: true, resourceVersion },
          (type: string, object: T | StatusLike) => {
            delivered = true;
            if (type === 'ERROR') {
              if ((object as StatusLike).code === 410) gone = true;
              return;
            }
            const rv = (object as T).metadata?.resourceVersion;
            if (rv) resourceVersion = rv;
            if (type !== 'BOOKMARK') onEvent(type, object as T);
          },
          (error: unknown) => {
            if (error && typeof error === 'object' && 'statusCode' in error && error.statusCode === 410) gone = true;
            resolve();
          },
        )
        .then((c) => {
          controller = c;
          if (stopped) c.abort();
        })
        .catch(() => resolve());
    });
    if (gone) resourceVersion = '';
    return delivered;
  };

  const loop = async (): Promise<void> => {
    let barren = 0;
    while (!stopped) {
      barren = (await connect()) ? 0 : barren + 1;
      if (stopped) return;
      reconnects += 1;
      // A position the server keeps refusing without saying 410 is as good as lost.
      if (barren >= 20) resourceVersion = '';
      // Back off a little: while the apiserver restarts every attempt fails at once.
      await new Promise((r) => setTimeout(r, 200));
      if (resourceVersion === '') {
        try {
          await relist();
          relists += 1;
        } catch {
          // Still down; the next round tries again.
        }
      }
    }
  };

  await relist();
  void loop();
  return {
    get reconnects() {
      return reconnects;
    },
    get relists() {
      return relists;
    },
    stop: () => {
      stopped = true;
      controller?.abort();
    },
  };
}

export function readyOf(slice: WatchedSlice): ReadyEndpoint[] {
  // Unset `ready` means "unknown", which consumers such as kube-proxy treat as ready.
  return (slice.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .map((e) => ({ pod: e.targetRef?.name ?? e.addresses?.[0] ?? '?', uid: e.targetRef?.uid ?? e.addresses?.[0] ?? '?' }));
}
