// API requests as the API server saw them: its audit log (JSON, one line per request
// at ResponseComplete). Counting here rather than in a client means a request cannot
// go uncounted because it bypassed the client's counter.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export const FAILOVER_USER = 'system:serviceaccount:baton-system:baton-failover';
export const SLICE_CONTROLLER_USER = 'system:serviceaccount:kube-system:endpointslice-controller';
export const ADMIN_USER = 'admin';

export interface AuditRecord {
  readonly user: string;
  readonly verb: string;
  readonly resource: string;
  readonly subresource: string | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly code: number;
  /** Path and query as sent: the query carries list selectors. */
  readonly uri: string;
  /** Epoch ms (microsecond precision kept as a fraction). */
  readonly received: number;
  readonly completed: number;
}

interface RawEntry {
  readonly stage?: string;
  readonly verb?: string;
  readonly user?: { readonly username?: string };
  readonly objectRef?: { readonly resource?: string; readonly subresource?: string; readonly namespace?: string; readonly name?: string };
  readonly responseStatus?: { readonly code?: number };
  readonly requestURI?: string;
  readonly requestReceivedTimestamp?: string;
  readonly stageTimestamp?: string;
}

/** RFC 3339 with up to nanoseconds; Date.parse would drop everything below the millisecond. */
export function preciseTime(text: string | undefined): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text ?? '');
  if (!m) return Number.NaN;
  const fraction = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return Date.parse(`${m[1]}Z`) + fraction;
}

/**
 * A position in the log just after its last complete line, so that consecutive
 * windows [mark, mark) neither split nor lose a line that was being written.
 */
export function auditMark(path: string): number {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return 0;
  }
  const fd = openSync(path, 'r');
  try {
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - 65_536);
      const chunk = Buffer.alloc(end - start);
      readSync(fd, chunk, 0, chunk.length, start);
      const nl = chunk.lastIndexOf(0x0a);
      if (nl >= 0) return start + nl + 1;
      end = start;
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}

const READS = new Set(['get', 'list', 'watch']);

export function isRead(r: AuditRecord): boolean {
  return READS.has(r.verb);
}

/** Completed requests logged between two byte offsets of the log. */
export function readAudit(path: string, from: number, to = auditMark(path)): AuditRecord[] {
  if (to <= from) return [];
  const buffer = Buffer.alloc(to - from);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, from);
  } finally {
    closeSync(fd);
  }
  const out: AuditRecord[] = [];
  for (const line of buffer.toString('utf8').split('\n')) {
    if (!line) continue;
    let entry: RawEntry;
    try {
      entry = JSON.parse(line) as RawEntry;
    } catch {
      continue;
    }
    if (entry.stage !== 'ResponseComplete') continue;
    out.push({
      user: entry.user?.username ?? '?',
      verb: entry.verb ?? '?',
      resource: entry.objectRef?.resource ?? '?',
      subresource: entry.objectRef?.subresource,
      namespace: entry.objectRef?.namespace,
      name: entry.objectRef?.name,
      code: entry.responseStatus?.code ?? 0,
      uri: entry.requestURI ?? '',
      received: preciseTime(entry.requestReceivedTimestamp),
      completed: preciseTime(entry.stageTimestamp),
    });
  }
  return out;
}

/** "patch services", "list pods", "patch services 409": one word per kind of request. */
export function describe(r: AuditRecord): string {
  const what = `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
  return r.code >= 300 ? `${what} ${r.code}` : what;
}

export function countBy(records: readonly AuditRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) out[describe(r)] = (out[describe(r)] ?? 0) + 1;
  return out;
}
