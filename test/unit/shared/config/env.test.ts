import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeConfig, loadConfig } from '../../../../shared/config/env.js';
import { ConfigError } from '../../../../shared/config/errors.js';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

describe('loadConfig', () => {
  it('gives every default for an empty environment', () => {
    assert.deepEqual(loadConfig({}), {
      port: 8080,
      host: undefined,
      prefix: 'baton.dev',
      sink: undefined,
      logLevel: 'info',
      namespaces: [],
      apiTimeoutMs: 5000,
      conflictRetries: 5,
      indexRefreshMs: 30000,
      resyncIntervalMs: 30000,
      bodyLimit: 1048576,
      roleLabels: false,
      eventSource: undefined,
      ingressClass: undefined,
      routeHosts: undefined,
      ceExtensions: {},
      authMode: 'off',
      authAudience: undefined,
      authSubjects: [],
      metrics: true,
      metricsPort: undefined,
      metricsServiceLabels: false,
    });
  });

  it('reads the metrics knobs', () => {
    const config = loadConfig({ BATON_METRICS: 'on', BATON_METRICS_PORT: '9091', BATON_METRICS_SERVICE_LABELS: 'true' });
    assert.equal(config.metrics, true);
    assert.equal(config.metricsPort, 9091);
    assert.equal(config.metricsServiceLabels, true);
    assert.equal(loadConfig({ BATON_METRICS: 'off' }).metrics, false);
  });

  it('refuses a metrics port that is the function port, or one set while metrics are off', () => {
    const same = configError({ PORT: '9090', BATON_METRICS_PORT: '9090' });
    assert.deepEqual(same.problems.map((p) => p.variable), ['BATON_METRICS_PORT']);
    assert.match(same.message, /BATON_METRICS_PORT="9090": is the function's own port \(PORT\)/);
    const off = configError({ BATON_METRICS: 'off', BATON_METRICS_PORT: '9091' });
    assert.match(off.message, /BATON_METRICS_PORT="9091": has no effect while BATON_METRICS=off/);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '9090',
      BATON_HOST: '127.0.0.1',
      BATON_PREFIX: 'failover.example.com',
      K_SINK: 'http://broker-ingress.knative-eventing.svc.cluster.local/demo/default',
      LOG_LEVEL: 'DEBUG',
      BATON_NAMESPACES: 'demo, prod ,demo,',
      BATON_API_TIMEOUT_MS: '100',
      BATON_CONFLICT_RETRIES: '0',
      BATON_INDEX_REFRESH_MS: '3600000',
      BATON_RESYNC_INTERVAL_MS: '86400000',
      BATON_BODY_LIMIT: '1024',
      BATON_ROLE_LABELS: 'true',
      BATON_EVENT_SOURCE: 'https://baton.example.com/failover',
      BATON_INGRESS_CLASS: 'nginx',
      BATON_ROUTE_HOSTS: 'off',
      K_CE_OVERRIDES: '{"extensions":{"team":"sre","cluster":"eu1"}}',
      BATON_AUTH: 'require',
      BATON_AUTH_AUDIENCE: 'serving.knative.dev/service/baton-system/baton-failover',
      BATON_AUTH_SUBJECTS: 'system:serviceaccount:knative-eventing:eventing-controller, system:serviceaccount:demo:oidc-trigger-x.y',
      BATON_METRICS: 'on',
      BATON_METRICS_PORT: '9091',
      BATON_METRICS_SERVICE_LABELS: 'true',
    });
    assert.deepEqual(config, {
      port: 9090,
      host: '127.0.0.1',
      prefix: 'failover.example.com',
      sink: 'http://broker-ingress.knative-eventing.svc.cluster.local/demo/default',
      logLevel: 'debug',
      namespaces: ['demo', 'prod'],
      apiTimeoutMs: 100,
      conflictRetries: 0,
      indexRefreshMs: 3600000,
      resyncIntervalMs: 86400000,
      bodyLimit: 1024,
      roleLabels: true,
      eventSource: 'https://baton.example.com/failover',
      ingressClass: 'nginx',
      routeHosts: { kind: 'off' },
      ceExtensions: { team: 'sre', cluster: 'eu1' },
      authMode: 'require',
      authAudience: 'serving.knative.dev/service/baton-system/baton-failover',
      authSubjects: ['system:serviceaccount:knative-eventing:eventing-controller', 'system:serviceaccount:demo:oidc-trigger-x.y'],
      metrics: true,
      metricsPort: 9091,
      metricsServiceLabels: true,
    });
  });

  it('treats empty values as unset', () => {
    const config = loadConfig({ PORT: '', K_SINK: '  ', BATON_NAMESPACES: '', K_CE_OVERRIDES: '' });
    assert.equal(config.port, 8080);
    assert.equal(config.sink, undefined);
    assert.deepEqual(config.namespaces, []);
  });

  it('accepts IPv6 and hostnames as bind address', () => {
    assert.equal(loadConfig({ BATON_HOST: '::' }).host, '::');
    assert.equal(loadConfig({ BATON_HOST: 'localhost' }).host, 'localhost');
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['PORT', '0', /1 to 65535/],
    ['PORT', '65536', /1 to 65535/],
    ['PORT', '80abc', /1 to 65535/],
    ['PORT', '8e3', /1 to 65535/],
    ['PORT', '-1', /1 to 65535/],
    ['BATON_HOST', 'not a host!', /IPv4\/IPv6 address or a hostname/],
    ['BATON_PREFIX', 'Baton.Dev', /DNS subdomain/],
    ['BATON_PREFIX', 'baton.dev/x', /DNS subdomain/],
    ['BATON_PREFIX', `${'a'.repeat(64)}.dev`, /DNS subdomain/],
    ['K_SINK', 'broker.svc/path', /absolute http:\/\/ or https:\/\/ URL/],
    ['K_SINK', 'ftp://example.com/', /absolute http/],
    ['LOG_LEVEL', 'loud', /one of trace, debug, info, warn, error/],
    ['BATON_NAMESPACES', 'demo,Prod', /comma-separated namespace names/],
    ['BATON_NAMESPACES', 'demo,under_score', /comma-separated.*\("under_score" is not a namespace name\)/],
    ['BATON_API_TIMEOUT_MS', '99', /100 to 60000/],
    ['BATON_CONFLICT_RETRIES', '21', /0 to 20/],
    ['BATON_INDEX_REFRESH_MS', '999', /1000 to 3600000/],
    ['BATON_RESYNC_INTERVAL_MS', '86400001', /1000 to 86400000/],
    ['BATON_BODY_LIMIT', '1023', /1024 to 10485760/],
    ['BATON_BODY_LIMIT', '1mb', /1024 to 10485760/],
    ['BATON_EVENT_SOURCE', 'has space', /URI reference/],
    ['BATON_INGRESS_CLASS', 'Nginx', /IngressClass name/],
    ['K_CE_OVERRIDES', '{extensions:', /not JSON/],
    ['K_CE_OVERRIDES', '{"extensions":{"Team":"sre"}}', /lowercase letters and digits/],
    ['K_CE_OVERRIDES', '{"extensions":{"type":"x"}}', /reserved CloudEvents attribute/],
    ['K_CE_OVERRIDES', '{"extensions":{"n":1}}', /string values \(extensions\.n: Invalid input: expected string/],
    ['K_CE_OVERRIDES', '[1]', /expected JSON like/],
    ['BATON_AUTH', 'on', /one of off, verify, require/],
    ['BATON_AUTH', 'Require', /one of off, verify, require/],
    ['BATON_AUTH_AUDIENCE', 'has space', /without spaces/],
    ['BATON_AUTH_SUBJECTS', 'system:serviceaccount:demo', /\("system:serviceaccount:demo" is not system:serviceaccount:<namespace>:<name>\)/],
    ['BATON_AUTH_SUBJECTS', 'system:serviceaccount:Demo:x', /is not system:serviceaccount/],
    ['BATON_AUTH_SUBJECTS', 'alice', /is not system:serviceaccount/],
    ['BATON_METRICS', 'yes', /on or off/],
    ['BATON_METRICS', 'true', /on or off/],
    ['BATON_METRICS_PORT', '0', /1 to 65535, other than PORT/],
    ['BATON_METRICS_PORT', '9090/metrics', /1 to 65535/],
    ['BATON_METRICS_SERVICE_LABELS', 'on', /true or false/],
  ];
  for (const [variable, value, accepted] of invalid) {
    it(`rejects ${variable}=${JSON.stringify(value)}, naming variable, value and what is accepted`, () => {
      const err = configError({ [variable]: value });
      assert.match(err.message, new RegExp(`${variable}=${escape(JSON.stringify(value))}`));
      assert.match(err.message, accepted);
      assert.deepEqual(
        err.problems.map((p) => [p.variable, p.value]),
        [[variable, value]],
      );
    });
  }

  it('refuses authentication without an audience, naming BATON_AUTH_AUDIENCE', () => {
    for (const mode of ['verify', 'require']) {
      const err = configError({ BATON_AUTH: mode });
      assert.deepEqual(err.problems.map((p) => [p.variable, p.value]), [['BATON_AUTH_AUDIENCE', undefined]]);
      assert.match(err.message, new RegExp(`BATON_AUTH_AUDIENCE=\\(unset\\): required when BATON_AUTH=${mode}`));
    }
  });

  it('refuses a subject list while authentication is off: it would protect nothing', () => {
    const err = configError({ BATON_AUTH_SUBJECTS: 'system:serviceaccount:a:b' });
    assert.deepEqual(err.problems.map((p) => p.variable), ['BATON_AUTH_SUBJECTS']);
    assert.match(err.message, /no effect while BATON_AUTH=off/);
    assert.doesNotThrow(() => loadConfig({ BATON_AUTH: 'off', BATON_AUTH_AUDIENCE: 'x' }), 'an audience alone is harmless');
  });

  it('lists every bad variable at once', () => {
    const err = configError({ PORT: 'x', LOG_LEVEL: 'loud', K_SINK: 'nope', BATON_PREFIX: 'fine.dev' });
    assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['K_SINK', 'LOG_LEVEL', 'PORT']);
    assert.match(err.message, /3 variables/);
    assert.equal(err.name, 'ConfigError');
  });
});

describe('describeConfig', () => {
  it('documents every variable loadConfig reads, with its default', () => {
    const knobs = describeConfig();
    const names = knobs.map((k) => k.name);
    assert.deepEqual(names, [
      'PORT',
      'BATON_HOST',
      'BATON_PREFIX',
      'K_SINK',
      'LOG_LEVEL',
      'BATON_NAMESPACES',
      'BATON_API_TIMEOUT_MS',
      'BATON_CONFLICT_RETRIES',
      'BATON_INDEX_REFRESH_MS',
      'BATON_RESYNC_INTERVAL_MS',
      'BATON_BODY_LIMIT',
      'BATON_ROLE_LABELS',
      'BATON_EVENT_SOURCE',
      'BATON_INGRESS_CLASS',
      'BATON_ROUTE_HOSTS',
      'K_CE_OVERRIDES',
      'BATON_AUTH',
      'BATON_AUTH_AUDIENCE',
      'BATON_AUTH_SUBJECTS',
      'BATON_METRICS',
      'BATON_METRICS_PORT',
      'BATON_METRICS_SERVICE_LABELS',
    ]);
    for (const knob of knobs) {
      assert.ok(knob.meaning.length > 10, `${knob.name} has a meaning`);
      assert.ok(knob.accepted.length > 5, `${knob.name} says what is accepted`);
    }
    assert.equal(knobs.find((k) => k.name === 'PORT')?.default, '8080');
    assert.equal(knobs.find((k) => k.name === 'K_SINK')?.default, undefined);
  });

  it('has defaults that loadConfig itself accepts', () => {
    const env: NodeJS.ProcessEnv = {};
    for (const knob of describeConfig()) if (knob.default !== undefined) env[knob.name] = knob.default;
    assert.doesNotThrow(() => loadConfig(env));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
