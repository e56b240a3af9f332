// `npm run soak`: a long chaos run on a plane of its own, printing the closing-note
// table. Exits 1 when an invariant failed, so it can gate a release.
//   npm run soak -- --seed 7 --steps 3000 --minutes 15
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { startPlane, stopPlane } from '../../plane/plane.js';
import { adminConfig } from '../e2e/support/plane.js';
import { Cleanup } from './cleanup.js';
import { formatReport } from './report.js';
import { runScenario } from './scenario.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    steps: { type: 'string', default: '2000' },
    minutes: { type: 'string', default: '10' },
    services: { type: 'string', default: '24' },
    instances: { type: 'string', default: '4' },
    gap: { type: 'string', default: '300' },
    'lost-responses': { type: 'string', default: '0' },
    plane: { type: 'string' },
    'keep-plane': { type: 'boolean', default: false },
  },
  strict: true,
});

function number(name: string, text: string | undefined, min: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) {
    process.stderr.write(`soak: --${name} must be a number ≥ ${min} (got ${JSON.stringify(text)})\n`);
    process.exit(64);
  }
  return value;
}

const seed = number('seed', values.seed, 0);
const minutes = number('minutes', values.minutes, 0.1);
const services = number('services', values.services, 1);
const instances = number('instances', values.instances, 1);
const gap = number('gap', values.gap, 10);
// The restarts sit at fixed fractions of the script, so the script must fit the time
// budget or they would never be reached. Each step costs its pause plus roughly a
// quarter more for the action itself; the budget stays as a hard stop.
const steps = Math.min(number('steps', values.steps, 1), Math.max(10, Math.floor((minutes * 60_000) / (gap * 1.25))));
const lostResponses = number('lost-responses', values['lost-responses'], 0);

const started = Date.now();
const say = (line: string): void => void process.stderr.write(`[soak ${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`);
const cleanup = new Cleanup();
let finishing = false;
const finish = async (code: number): Promise<never> => {
  if (!finishing) {
    finishing = true;
    await cleanup.run();
  }
  process.exit(code);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void finish(130));

try {
  const dir = values.plane ?? mkdtempSync(join(tmpdir(), 'baton-soak-plane-'));
  if (!values.plane) {
    say(`starting a plane in ${dir}`);
    cleanup.add(() => (values['keep-plane'] ? say(`plane kept: KUBECONFIG=${join(dir, 'kubeconfig')}`) : stopPlane(dir)));
    await startPlane({ dir, nodes: 2, auditLog: true, progress: say });
  }
  // The e2e helpers find their plane through this variable.
  process.env.BATON_TEST_PLANE = dir;
  const namespace = `chaos-soak-${randomBytes(3).toString('hex')}`;
  const core = adminConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  cleanup.add(() => core.deleteNamespace({ name: namespace }).catch(() => undefined));

  const report = await runScenario(
    {
      seed,
      steps,
      services,
      instances,
      namespace,
      meanGapMs: gap,
      actionBudgetMs: minutes * 60_000,
      apiFaults: { lostResponse: lostResponses },
      log: say,
    },
    cleanup,
  );
  process.stdout.write(`\n${formatReport(report)}\n`);
  for (const v of report.violations.slice(0, 10)) process.stdout.write(`violation: ${new Date(v.at).toISOString()} ${v.service} ready [${v.ready.join(', ')}]\n`);
  for (const u of report.unconverged.slice(0, 10)) process.stdout.write(`unconverged: ${u}\n`);
  if (report.audit.lost.length) process.stdout.write(`lost audit events (service#term): ${report.audit.lost.slice(0, 20).join(' ')}\n`);
  for (const e of report.actionErrors.slice(0, 5)) process.stdout.write(`action error: ${e}\n`);
  const failed = report.violations.length > 0 || report.unconverged.length > 0 || report.audit.lost.length > 0 || report.audit.conflicting.length > 0 || report.audit.phantom.length > 0 || report.instancesCrashed > 0;
  await finish(failed ? 1 : 0);
} catch (error) {
  process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await finish(1);
}
