// What `skaffold run` would deploy, checked without a Docker engine: skaffold (built
// from its Go module) accepts skaffold.yaml and renders knative/ for every profile,
// the API server accepts every rendered object in a server-side dry run (Knative CRDs
// installed), the shipped RBAC is the RBAC the other e2e tests run under, and the
// settings that matter on purpose (warm failover, private routes, probes, limits,
// scope) are what the README says.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from '../../../plane/paths.js';
import { ensureSkaffold } from '../../../plane/skaffold.js';
import { adminConfig, statusOf, testPlane } from './plane.js';

// image: what the profile builds, and so what the functions must run (local uses a
// name Knative does not resolve in a registry).
export const PROFILES = [
  { name: 'default', args: [] as string[], overlay: 'knative/overlays/production', image: 'baton' },
  { name: 'local', args: ['-p', 'local'], overlay: 'knative/overlays/local', image: 'dev.local/baton' },
  { name: 'production', args: ['-p', 'production'], overlay: 'knative/overlays/production', image: 'baton' },
  { name: 'plane', args: ['-p', 'plane'], overlay: 'knative/overlays/plane', image: 'dev.local/baton' },
] as const;

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export let skaffoldPath = '';

export let home = '';



export const root = repoRoot();

export const kubectlPath = (): string => testPlane().binaries.paths.kubectl;

export function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // skaffold keeps a global config (telemetry prompt, update check) under $HOME;
    // a private one keeps the test from writing to the user's and from phoning home.
    HOME: home,
    SKAFFOLD_UPDATE_CHECK: 'false',
    KUBECONFIG: testPlane().kubeconfig,
    // skaffold renders kustomize through `kubectl kustomize` when no kustomize binary
    // is installed: the plane's kubectl comes first.
    PATH: [dirname(kubectlPath()), process.env.PATH ?? ''].join(delimiter),
  };
}

export function run(cmd: string, args: string[], input?: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd: root, env: env(), encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (r.error) throw r.error;
  return r;
}

export function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

// YAML to plain objects. client-node's loadAllYaml maps every document onto its
// built-in models, so a Knative Service comes back as a core Service without its
// spec; kubectl's --local mode converts without a server and drops nothing (removing
// a label nobody has is the no-op that makes it print the objects).
export function parse(text: string): Obj[] {
  const file = join(mkdtempSync(join(tmpdir(), 'baton-yaml-')), 'in.yaml');
  writeFileSync(file, text);
  const out = ok(run(kubectlPath(), ['label', '--local', '-o', 'json', '-f', file, 'baton.dev/unused-']), `converting ${file} to JSON`);
  return out
    .trim()
    .split(/\n(?=\{)/)
    .filter((chunk) => chunk !== '')
    .map((chunk) => JSON.parse(chunk) as Obj);
}

export const find = (objs: Obj[], kind: string, name: string, apiVersion?: string): Obj => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name && (!apiVersion || x.apiVersion === apiVersion));
  assert.ok(o, `no ${kind} ${name} in the rendered manifests`);
  return o;
};

export const ksvc = (objs: Obj[], name: string): Obj => find(objs, 'Service', name, 'serving.knative.dev/v1');

export const spec = (o: Obj): unknown => o['spec'];

/** Walks a parsed manifest by path; a missing step gives undefined, so the assertion on the result fails rather than the walk throwing. */
export function at(value: unknown, ...path: ReadonlyArray<string | number>): unknown {
  let here = value;
  for (const step of path) {
    if (typeof here !== 'object' || here === null) return undefined;
    here = (here as Record<string | number, unknown>)[step];
  }
  return here;
}

export const items = (value: unknown): unknown[] => {
  assert.ok(Array.isArray(value), `not a list: ${JSON.stringify(value)}`);
  return value as unknown[];
};

export const text = (value: unknown): string => {
  assert.equal(typeof value, 'string', `not a string: ${JSON.stringify(value)}`);
  return value as string;
};

before(async () => {
  const started = Date.now();
  const skaffold = await ensureSkaffold((m) => console.error(`[skaffold ${((Date.now() - started) / 1000).toFixed(0)} s] ${m}`));
  skaffoldPath = skaffold.path;
  home = mkdtempSync(join(tmpdir(), 'baton-skaffold-home-'));
  mkdirSync(join(home, '.skaffold'));
  writeFileSync(join(home, '.skaffold', 'config'), 'global:\n  collect-metrics: false\n  update-check: false\n  survey:\n    disable-prompt: true\n');
});

/** Creates baton-system for real: a dry run cannot create the namespace its objects go in. */
export async function ensureSystemNamespace(): Promise<void> {
  await adminConfig()
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name: 'baton-system' } } })
    .catch((e: unknown) => {
      if (statusOf(e) !== 409) throw e;
    });
}

export function dryRun(yaml: string, count: number, what: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-dry-'));
  const file = join(dir, 'all.yaml');
  writeFileSync(file, yaml);
  // kubectl's default --validate=strict: a misspelt field is an error, not pruned.
  const out = ok(run(kubectlPath(), ['--kubeconfig', testPlane().kubeconfig, 'apply', '--dry-run=server', '-f', file]), `dry run of ${what}`);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, count, `${what}: one line per object:\n${out}`);
  for (const line of lines) assert.match(line, /\(server dry run\)$/, what);
  return out;
}

const renders = new Map<string, { objs: Obj[]; text: string }>();

/** What `skaffold render --offline` makes of one profile; rendered once per test file. */
export function render(name: (typeof PROFILES)[number]['name']): { objs: Obj[]; text: string } {
  const cached = renders.get(name);
  if (cached) return cached;
  const p = PROFILES.find((x) => x.name === name)!;
  const file = join(mkdtempSync(join(tmpdir(), 'baton-render-')), `${p.name}.yaml`);
  ok(run(skaffoldPath, ['render', '--offline', '--digest-source=none', ...p.args, '-o', file]), `skaffold render (${p.name})`);
  const text = readFileSync(file, 'utf8');
  const done = { objs: parse(text), text };
  renders.set(name, done);
  return done;
}
