import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { readState, type PlaneState } from '../../../plane/state.js';

/** The plane that scripts/test.mjs started for this run. */
export function testPlane(): PlaneState {
  const dir = process.env.BATON_TEST_PLANE;
  const state = dir ? readState(dir) : undefined;
  if (!state) throw new Error('e2e tests need the local plane: run them through `npm test` (scripts/test.mjs starts it)');
  return state;
}

export function adminConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(testPlane().kubeconfig);
  return kc;
}

/** A fresh namespace for one test, deleted (without waiting) when the test ends. */
export async function testNamespace(t: Pick<TestContext, 'after'>, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'baton.dev/test': 'true' } } } });
  t.after(async () => {
    await core.deleteNamespace({ name }).catch(() => undefined);
  });
  return name;
}

/** The HTTP status of a failed client-node call, or undefined. */
export function statusOf(error: unknown): number | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'number') return error.code;
  return undefined;
}
