// A lean admin client for the bench's own writes. The moment a status PATCH is "sent"
// starts every latency figure, so it goes out on a warm keep-alive connection with
// nothing between the call and the socket; client-node's per-request agent and
// middleware would add client-side noise to the very number being measured.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { PlaneState } from '../plane/state.js';

export interface Reply {
  readonly status: number;
  readonly body: string;
}

export type PatchType = 'merge' | 'strategic';

const CONTENT_TYPES: Readonly<Record<PatchType, string>> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface Api {
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<Reply>;
  /** Parsed JSON of a 2xx reply; anything else throws with the path and the server's message. */
  get<T>(path: string): Promise<T>;
  create(path: string, body: unknown): Promise<void>;
  patch(path: string, body: unknown, type: PatchType): Promise<void>;
  /** Sets a pod's Ready condition as a kubelet's readiness probe would. */
  setReady(namespace: string, pod: string, ready: boolean): Promise<void>;
  close(): void;
}

export function connectApi(plane: Pick<PlaneState, 'server' | 'adminToken' | 'caFile'>, { maxSockets = 64, timeoutMs = 15_000 } = {}): Api {
  const agent = new https.Agent({ ca: readFileSync(plane.caFile), keepAlive: true, maxSockets });
  const request = (method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${plane.server}${path}`,
        {
          method,
          agent,
          timeout: timeoutMs,
          headers: {
            authorization: `Bearer ${plane.adminToken}`,
            accept: 'application/json',
            ...(data !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(data);
    });
  };
  const must = async (method: string, path: string, body?: unknown, contentType?: string): Promise<Reply> => {
    const reply = await request(method, path, body, contentType);
    if (reply.status < 200 || reply.status >= 300) throw new Error(`${method} ${path}: HTTP ${reply.status}: ${reply.body.slice(0, 300)}`);
    return reply;
  };
  return {
    request,
    get: async <T>(path: string): Promise<T> => JSON.parse((await must('GET', path)).body) as T,
    create: async (path, body) => void (await must('POST', path, body)),
    patch: async (path, body, type) => void (await must('PATCH', path, body, CONTENT_TYPES[type])),
    setReady: async (namespace, pod, ready) =>
      void (await must(
        'PATCH',
        `/api/v1/namespaces/${namespace}/pods/${pod}/status`,
        { status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date().toISOString() }] } },
        CONTENT_TYPES.strategic,
      )),
    close: () => agent.destroy(),
  };
}

/** The minimal shape of the objects the bench reads. */
export interface PodLike {
  readonly metadata: { readonly name: string; readonly uid: string; readonly labels?: Record<string, string>; readonly deletionTimestamp?: string };
  readonly status?: { readonly phase?: string; readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string }> };
}

export function isReady(pod: PodLike): boolean {
  return pod.metadata.deletionTimestamp === undefined && pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
