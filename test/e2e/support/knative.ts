// Helpers of the Knative e2e tests: Knative objects' readiness, a POST to a Broker from the
// host, and figures read from the host's /proc (the real node's containers are ordinary
// processes in cgroups named after their pod).
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';

export { ready, type Condition, type KnativeObject } from '../../../plane/knative/baton.js';

/** POSTs `body` and resolves to the status code (e.g. a CloudEvent to a Broker's ingress). */
export function post(host: string, port: number, path: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Resident memory (bytes) of each pod's processes, by pod UID: every process whose cgroup
 * path has `pod<uid>/`, except the pause container (the sandbox, not the component).
 */
export function podRss(uids: readonly string[]): Map<string, number> {
  const wanted = new Set(uids);
  const out = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const pod = /\/pod([0-9a-f-]{36})\//.exec(readFileSync(`/proc/${entry}/cgroup`, 'utf8'))?.[1];
      if (!pod || !wanted.has(pod)) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (/^Name:\s+pause$/m.test(status)) continue;
      const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
      out.set(pod, (out.get(pod) ?? 0) + kb * 1024);
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}
