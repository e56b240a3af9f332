// The metrics page on the event server and on a port of its own: figures only, GET only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { listen, type RunningServer } from '../../../../shared/http/listen.js';
import { handled } from '../../../../shared/http/outcome.js';
import { createServer } from '../../../../shared/http/server.js';
import { deliveryObserver, listenMetrics, metricsPage } from '../../../../shared/metrics/http.js';
import { createMetrics, type Metrics } from '../../../../shared/metrics/metrics.js';
import { loadEnvelope, structured } from '../../../fixtures/apiserversource.js';
import { captureLogs } from '../../../fixtures/log-capture.js';
import { parseSamples, valueOf } from '../../../fixtures/prom-text.js';

describe('metrics over HTTP', () => {
  let metrics: Metrics;
  let server: RunningServer;
  let handledEvents = 0;
  before(async () => {
    metrics = createMetrics({ function: 'failover', serviceLabels: false });
    const { logger } = captureLogs('debug', 'metrics-test');
    const app = createServer({
      handle: () => {
        handledEvents += 1;
        return handled('ok');
      },
      logger,
      bodyLimit: 1024 * 1024,
      onDelivery: deliveryObserver(metrics),
      metricsPage: metricsPage(metrics),
    });
    server = await listen(app, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await server.close();
  });

  it('counts a delivery by kind and outcome, and serves the figures as Prometheus text', async () => {
    const envelope = loadEnvelope('podUpdateNotReady');
    const wire = structured(envelope);
    const delivered = await fetch(server.url, { method: 'POST', headers: wire.headers, body: wire.body });
    assert.equal(delivered.status, 200);
    const bad = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(bad.status, 400);
    const page = await fetch(`${server.url}/metrics`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await page.text();
    const samples = parseSamples(text);
    assert.equal(valueOf(samples, 'baton_events_total', { kind: 'Pod', outcome: 'handled', function: 'failover' }), 1);
    assert.equal(valueOf(samples, 'baton_events_total', { kind: 'none', outcome: 'rejected', function: 'failover' }), 1);
    assert.equal(valueOf(samples, 'baton_event_handling_seconds_count', { kind: 'Pod', function: 'failover' }), 1);
    // The probe and the scrape are not deliveries.
    assert.doesNotMatch(text, /^baton_events_total\{[^}]*outcome="(?!handled|rejected)/m);
  });

  it('takes no event at /metrics: a POST there is a 404 that reaches no handler', async () => {
    const before = handledEvents;
    const wire = structured(loadEnvelope('podUpdateNotReady'));
    const response = await fetch(`${server.url}/metrics`, { method: 'POST', headers: wire.headers, body: wire.body });
    assert.equal(response.status, 404);
    assert.equal(handledEvents, before);
  });

  it('a port of its own serves GET /metrics and nothing else', async () => {
    const own = await listenMetrics(metrics, '127.0.0.1', 0);
    try {
      assert.equal((await fetch(`${own.url}/metrics`)).status, 200);
      const wire = structured(loadEnvelope('podUpdateNotReady'));
      assert.equal((await fetch(own.url, { method: 'POST', headers: wire.headers, body: wire.body })).status, 404);
      assert.equal((await fetch(`${own.url}/healthz`)).status, 404);
    } finally {
      await own.close();
    }
  });

  it('a server without metrics has no /metrics route', async () => {
    const { logger } = captureLogs('debug', 'metrics-test');
    const plain = await listen(createServer({ handle: () => handled('ok'), logger, bodyLimit: 1024 }), { host: '127.0.0.1', port: 0 });
    try {
      assert.equal((await fetch(`${plain.url}/metrics`)).status, 404);
    } finally {
      await plain.close();
    }
  });
});

describe('delivery delay', () => {
  it('is arrival minus the event time, and ignores times far in the future', async () => {
    const metrics = createMetrics({ function: 'failover', serviceLabels: false });
    const observer = deliveryObserver(metrics);
    const arrivedAt = Date.parse('2026-01-01T00:00:10Z');
    observer.ended({ kind: 'Pod', outcome: 'handled', seconds: 0.001, arrivedAt, eventTime: '2026-01-01T00:00:07Z' });
    observer.ended({ kind: 'Pod', outcome: 'handled', seconds: 0.001, arrivedAt, eventTime: '2026-01-01T01:00:00Z' });
    observer.ended({ kind: 'Pod', outcome: 'handled', seconds: 0.001, arrivedAt, eventTime: undefined });
    const text = await metrics.render();
    const samples = parseSamples(text);
    assert.equal(valueOf(samples, 'baton_event_delivery_delay_seconds_count', { function: 'failover' }), 1);
    assert.equal(valueOf(samples, 'baton_event_delivery_delay_seconds_sum', { function: 'failover' }), 3);
  });
});
