import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRequest } from '../../../../shared/metrics/api.js';

describe('describeRequest: verb and resource of an API request', () => {
  const rows: Array<[string, string, string | undefined, string, string]> = [
    ['GET', 'https://h:6443/api/v1/namespaces/demo/services/web', undefined, 'get', 'services'],
    ['GET', 'https://h:6443/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb', undefined, 'list', 'pods'],
    ['GET', 'https://h:6443/api/v1/services?labelSelector=baton.dev%2Fmode%3Dactive-standby', undefined, 'list', 'services'],
    ['GET', 'https://h:6443/api/v1/namespaces/demo/services?watch=true&resourceVersion=5', undefined, 'watch', 'services'],
    ['GET', 'https://h:6443/apis/discovery.k8s.io/v1/namespaces/demo/endpointslices?labelSelector=x', undefined, 'list', 'endpointslices'],
    ['PATCH', 'https://h:6443/api/v1/namespaces/demo/services/web', 'application/merge-patch+json', 'patch', 'services'],
    ['PATCH', 'https://h:6443/apis/networking.k8s.io/v1/namespaces/demo/ingresses/web?fieldManager=baton-routes', 'application/apply-patch+yaml', 'apply', 'ingresses'],
    ['DELETE', 'https://h:6443/apis/networking.k8s.io/v1/namespaces/demo/ingresses/web', undefined, 'delete', 'ingresses'],
    ['POST', 'https://h:6443/api/v1/namespaces/demo/events', 'application/json', 'create', 'events'],
    ['PATCH', 'https://h:6443/api/v1/namespaces/demo/pods/web-0', 'application/merge-patch+json', 'patch', 'pods'],
    // Anything unrecognised is "other", never a label taken from the URL.
    ['GET', 'https://h:6443/api/v1/namespaces/demo/secrets/token', undefined, 'get', 'other'],
    ['GET', 'https://h:6443/openid/v1/jwks', undefined, 'other', 'other'],
    ['OPTIONS', 'https://h:6443/api/v1/namespaces/demo/pods', undefined, 'other', 'pods'],
    ['GET', 'not a url at all \u0000', undefined, 'other', 'other'],
  ];
  for (const [method, url, type, verb, resource] of rows) {
    it(`${method} ${url} is ${verb} ${resource}`, () => {
      assert.deepEqual(describeRequest(method, url, type), { verb, resource });
    });
  }
});
