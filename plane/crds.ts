// Installs the Knative CRDs the plane's binary cache holds, and waits until they are served.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { apiGet, apiWrite } from './api.js';
import type { Binaries } from './binaries.js';
import type { PlaneState } from './state.js';
import { waitFor } from './wait.js';

export async function installCrds(state: PlaneState, binaries: Binaries): Promise<void> {
  const files = readdirSync(binaries.crdDir).filter((f) => f.endsWith('.yaml')).sort();
  const names: string[] = [];
  for (const f of files) {
    // Plain YAML: client-node's loadAllYaml would turn x-kubernetes-preserve-unknown-fields
    // into x_kubernetes_preserve_unknown_fields, which the API server drops, and then
    // prunes fields such as a Trigger's filter attributes.
    for (const doc of loadAll(readFileSync(join(binaries.crdDir, f), 'utf8')) as Array<{ kind?: string; metadata?: { name?: string } } | null>) {
      if (doc?.kind !== 'CustomResourceDefinition') continue;
      const r = await apiWrite(state, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', doc);
      if (r.status !== 201 && r.status !== 409) throw new Error(`installing CRD ${doc.metadata?.name} from ${f} failed: HTTP ${r.status} ${r.body.slice(0, 500)}`);
      names.push(doc.metadata?.name ?? '');
    }
  }
  await waitFor(
    'Knative CRDs to be established',
    async () => {
      for (const name of names) {
        const r = await apiGet(state, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
        const crd = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
        if (!crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return undefined;
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}
