// Pod events nobody cares about, at a rate no real adapter would sustain: update
// events for pods that no opted-in Service selects, encoded exactly as the adapter
// encodes them (binary content mode, cloudevents sdk-go attribute set) and built from
// a real pod object read from the plane, so the body has the size and shape of the
// real thing, managedFields included.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { deliver, type WireEvent } from './processes.js';
import { now } from './util.js';

/** A pod as the API returns it; only the identity fields are touched. */
export interface PodObject {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface NoiseTemplate {
  readonly subject: string;
  readonly name: string;
  readonly namespace: string;
  readonly body: Buffer;
}

/**
 * `variants` distinct bodies (name, uid and resourceVersion differ) so the function
 * cannot benefit from seeing the very same bytes again; built once, before the clock starts.
 */
export function noiseTemplates(pod: PodObject, variants: number): NoiseTemplate[] {
  const base = Number(pod.metadata.resourceVersion) || 1;
  const out: NoiseTemplate[] = [];
  for (let i = 0; i < variants; i++) {
    const copy = structuredClone(pod);
    const name = `${pod.metadata.name}-n${i}`;
    copy.metadata.name = name;
    copy.metadata.uid = randomUUID();
    copy.metadata.resourceVersion = String(base + i);
    out.push({ subject: `/apis/v1/namespaces/${pod.metadata.namespace}/pods/${name}`, name, namespace: pod.metadata.namespace, body: Buffer.from(JSON.stringify(copy)) });
  }
  return out;
}

export function wireEvent(template: NoiseTemplate, source: string): WireEvent {
  return {
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': randomUUID(),
      'ce-source': source,
      'ce-type': 'dev.knative.apiserver.resource.update',
      'ce-subject': template.subject,
      'ce-time': new Date().toISOString(),
      'ce-kind': 'Pod',
      'ce-apiversion': 'v1',
      'ce-name': template.name,
      'ce-namespace': template.namespace,
    },
    body: template.body,
  };
}

export interface NoiseResult {
  readonly seconds: number;
  readonly concurrency: number;
  readonly sent: number;
  readonly ignored: number;
  readonly otherOutcomes: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly perSecond: number;
  readonly replyMs: { readonly p50: number; readonly p99: number };
}

/**
 * Closed loop: `concurrency` requests always in flight over keep-alive connections for
 * `seconds`; the offered rate is as high as the function lets it be. Bounded by time
 * and by a hard request cap.
 */
export async function offerNoise(url: string, templates: readonly NoiseTemplate[], source: string, seconds: number, concurrency: number): Promise<NoiseResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const cap = seconds * 100_000;
  const started = now();
  const endAt = started + seconds * 1000;
  let sent = 0;
  let ignored = 0;
  let errors = 0;
  const other: Record<string, number> = {};
  // A reservoir of reply times: enough for percentiles without keeping millions.
  const sample: number[] = [];
  const worker = async (): Promise<void> => {
    while (now() < endAt && sent < cap) {
      const template = templates[sent % templates.length]!;
      sent += 1;
      try {
        const reply = await deliver(url, wireEvent(template, source), agent);
        if (reply.status === 200 && reply.outcome === 'ignored') ignored += 1;
        else {
          const key = `${reply.status} ${reply.outcome ?? ''}`.trim();
          other[key] = (other[key] ?? 0) + 1;
        }
        if (sample.length < 20_000) sample.push(reply.ms);
        else sample[Math.floor(Math.random() * sample.length)] = reply.ms;
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (now() - started) / 1000;
  agent.destroy();
  sample.sort((a, b) => a - b);
  const at = (q: number): number => sample[Math.min(sample.length - 1, Math.floor(q * sample.length))] ?? Number.NaN;
  return { seconds: elapsed, concurrency, sent, ignored, otherOutcomes: other, errors, perSecond: ignored / elapsed, replyMs: { p50: at(0.5), p99: at(0.99) } };
}
