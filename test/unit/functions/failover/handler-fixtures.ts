// The recorded events and the rig that the failover handler tests share.
import { parseIncoming, type InboundEvent } from '../../../../shared/events/incoming.js';
import { loadEnvelope, structured, type FixtureName } from '../../../fixtures/apiserversource.js';
import { FakeCluster, type Call } from './fake-cluster.js';
import { KEYS, makePod, makeService, NS, rig, type Rig } from './world.js';

export const methods = (calls: readonly Call[]): string[] => calls.map((c) => c.method);

export function recorded(name: FixtureName): InboundEvent {
  const parsed = parseIncoming(structured(loadEnvelope(name)));
  if (!parsed.ok) throw new Error(`fixture ${name} does not parse: ${parsed.message}`);
  return parsed.event;
}

/** Service web with web-0 active (term 1, completed), web-0 and web-1 ready; index primed. */

export function steadyWorld(options: { namespaces?: readonly string[] } = {}): Rig {
  const cluster = new FakeCluster();
  cluster.putPod(makePod('web-0', { role: 'active', priority: '100' }));
  cluster.putPod(makePod('web-1', { role: 'standby' }));
  cluster.putService(makeService({ active: 'web-0' }));
  // The pods carry role labels, and these tests count their writes: role labels on.
  const r = rig(cluster, { roleLabels: true, ...options });
  r.index.observe(cluster.service(NS, 'web'));
  return r;
}

/** The recorded event: web-0 (active, pod-id label, priority 100) turned unready. */

export function failoverWorld(standbyLabelled: boolean): Rig {
  const cluster = new FakeCluster();
  cluster.putPod(makePod('web-0', { role: 'active', priority: '100', ready: false }));
  cluster.putPod(standbyLabelled ? makePod('web-1', { role: 'standby' }) : makePod('web-1'));
  cluster.putService(makeService({ active: 'web-0' }));
  const r = rig(cluster, { roleLabels: true });
  r.index.observe(cluster.service(NS, 'web'));
  return r;
}

export const isEvidence = (call: Call): boolean => call.method === 'recordEvent' || (call.method === 'patchPodLabels' && KEYS.role in call.labels);
