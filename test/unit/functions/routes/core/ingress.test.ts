import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredIngress } from '../../../../../functions/routes/core/ingress.js';
import { keys, svc } from './fixtures.js';

describe('desiredIngress', () => {
  const service = svc('web');

  it('writes one Prefix rule to the Service port, owned by the Service, labelled as baton\'s', () => {
    assert.deepEqual(desiredIngress(service, { host: 'web.example.com', path: '/api', port: { name: 'http' }, tlsSecret: undefined, ingressClass: undefined }, keys), {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: 'baton-web',
        namespace: 'demo',
        labels: { 'app.kubernetes.io/managed-by': 'baton', 'baton.dev/service': 'web' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'uid-web', controller: true }],
      },
      spec: {
        rules: [{ host: 'web.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } }] } }],
      },
    });
  });

  it('sets the class and the TLS block only when they are asked for', () => {
    const spec = desiredIngress(service, { host: '*.example.com', path: '/', port: { number: 8080 }, tlsSecret: 'web-tls', ingressClass: 'nginx' }, keys).spec;
    assert.deepEqual(spec, {
      ingressClassName: 'nginx',
      tls: [{ hosts: ['*.example.com'], secretName: 'web-tls' }],
      rules: [{ host: '*.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 8080 } } } }] } }],
    });
  });
});
