// Host routing that tenants cannot bend, end to end (issue 18): the retired load
// balancer's annotation read as its users meant it, the cluster admin's host policy
// against a tenant under its own RBAC, and each defect a review found, shown through
// HTTP, the real adapter and the shipped RBAC on the local plane.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../plane/paths.js';
import { waitFor } from '../../plane/wait.js';
import { startRoutesPipeline } from './support/baton.js';
import { clientKubeconfig } from './support/client-account.js';
import { statusOf, testNamespace, testPlane } from './support/plane.js';
import { merge, plain, clients, kubeconfigFrom, readIngress, ingressIn, eventOn, service, rule } from './support/routes-trust.js';

test('routes: the retired load balancer\'s lb.host annotation, read as its users meant it', async (t) => {
  const ns = await testNamespace(t, 'routes-legacy');
  const { sink } = await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: 'off' });
  const { core } = clients();
  const audit = (type: string, subject: string) => sink.waitFor(`${type} for ${subject}`, (e) => e.type === type && e.subject === `${ns}/${subject}`);

  // The documented example's shape: one Service port (3000), the old entry port 30800.
  await service(ns, 'grafana', { 'serviceloadbalancer/lb.host': 'grafana.example.com:30800' }, [{ port: 3000 }]);
  const grafana = await ingressIn(ns, 'baton-grafana');
  assert.equal(rule(grafana).host, 'grafana.example.com');
  assert.deepEqual(plain(rule(grafana).http!.paths[0]!.backend.service), { name: 'grafana', port: { number: 3000 } });
  const applied = await audit('dev.baton.route.applied', 'grafana');
  assert.equal((applied.data as { legacyEntryPort?: number }).legacyEntryPort, 30800);
  await eventOn(ns, 'grafana', 'RouteApplied', /port 3000 \(lb\.host entry port 30800 is not carried over: the ingress controller's own ports now decide it\)/);

  // Several ports: the entry port picks one when the Service has it...
  await service(ns, 'multi', { 'serviceloadbalancer/lb.host': 'multi.example.com:9090' }, [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }]);
  const multi = await ingressIn(ns, 'baton-multi');
  assert.deepEqual(plain(rule(multi).http!.paths[0]!.backend.service), { name: 'multi', port: { number: 9090 } });
  // ...and otherwise the user is told which annotation to add.
  await service(ns, 'nomatch', { 'serviceloadbalancer/lb.host': 'nomatch.example.com:30800' }, [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }]);
  await eventOn(ns, 'nomatch', 'InvalidRoute', /none is 30800, the old load balancer's entry port; add baton\.dev\/port with the one to route to, e\.g\. baton\.dev\/port: http/);
  assert.equal(await readIngress(ns, 'baton-nomatch'), undefined);

  // The example's own host, with "_", stays invalid, and the message shows a corrected name.
  await service(ns, 'underscore', { 'serviceloadbalancer/lb.host': 'grafana.under.my_domain.name:30800' }, [{ port: 3000 }]);
  const warning = await eventOn(ns, 'underscore', 'InvalidRoute');
  assert.equal(warning.type, 'Warning');
  assert.match(warning.message!, /RFC 1123.*for example grafana\.under\.my-domain\.name/);
  assert.equal(await readIngress(ns, 'baton-underscore'), undefined);

  // `baton routes` shows what each lb.host became.
  const table = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'routes', '-n', ns, '--host-policy', 'off'], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: testPlane().kubeconfig } });
  assert.equal(table.status, 0, table.stderr);
  t.diagnostic(table.stdout);
  assert.match(table.stdout, new RegExp(`${ns}/grafana: grafana\\.example\\.com:30800 → Ingress baton-grafana: http://grafana\\.example\\.com/ → port 3000`));
  assert.match(table.stdout, new RegExp(`${ns}/nomatch: nomatch\\.example\\.com:30800 → no Ingress \\(see STATE\\)`));

  // Removing the annotation removes the route.
  await core.patchNamespacedService({ name: 'grafana', namespace: ns, body: { metadata: { annotations: { 'serviceloadbalancer/lb.host': null } } } }, merge);
  await waitFor('baton-grafana to be gone', async () => ((await readIngress(ns, 'baton-grafana')) === undefined ? true : undefined), { timeoutMs: 20_000 });
  const removed = await audit('dev.baton.route.removed', 'grafana');
  assert.equal((removed.data as { reason: string }).reason, 'removed');
});

test('routes: a tenant who may only edit its own Services cannot claim a host outside its namespace\'s policy', async (t) => {
  const ns = await testNamespace(t, 'routes-tenant');
  const policy = `${ns}=*.${ns}.example.com`;
  const { sink } = await startRoutesPipeline(t, ns, { BATON_INDEX_REFRESH_MS: '3600000', BATON_ROUTE_HOSTS: policy });
  // The tenant's own RBAC: Services in its namespace, nothing else.
  const tenant = clients(kubeconfigFrom(await clientKubeconfig(ns, 'tenant', { rules: [{ apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }] })));
  await assert.rejects(tenant.net.createNamespacedIngress({ namespace: ns, body: { metadata: { name: 'direct' }, spec: { rules: [{ host: 'shop.example.com' }] } } }), (e: unknown) => statusOf(e) === 403, 'the tenant may not write Ingresses itself');

  // Inside the policy: routed.
  await service(ns, 'mine', { 'baton.dev/host': `www.${ns}.example.com` }, undefined, tenant.core);
  await ingressIn(ns, 'baton-mine');
  // Outside it: refused, naming the policy, and no Ingress.
  await service(ns, 'grab', { 'baton.dev/host': 'shop.example.com' }, undefined, tenant.core);
  const refused = await eventOn(ns, 'grab', 'InvalidRoute');
  assert.match(refused.message!, new RegExp(`shop\\.example\\.com is outside the host policy for namespace ${ns} \\(BATON_ROUTE_HOSTS allows \\*\\.${ns}\\.example\\.com\\)`));
  const invalid = await sink.waitFor('route.invalid for grab', (e) => e.type === 'dev.baton.route.invalid' && e.subject === `${ns}/grab`);
  assert.match(JSON.stringify(invalid.data), /BATON_ROUTE_HOSTS/);
  assert.equal(await readIngress(ns, 'baton-grab'), undefined);
  // Editing an allowed route onto a foreign host takes the route away rather than moving it.
  await tenant.core.patchNamespacedService({ name: 'mine', namespace: ns, body: { metadata: { annotations: { 'baton.dev/host': 'shop.example.com' } } } }, merge);
  await waitFor('baton-mine to be removed', async () => ((await readIngress(ns, 'baton-mine')) === undefined ? true : undefined), { timeoutMs: 20_000 });

  const table = spawnSync(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'routes', '-n', ns, '--host-policy', policy], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: testPlane().kubeconfig } });
  assert.equal(table.status, 0, table.stderr);
  t.diagnostic(table.stdout);
  assert.match(table.stdout, /grab\s+-\s+-\s+refused by host policy: shop\.example\.com is outside the host policy/);
});
