import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, statusClass } from '../../../../shared/metrics/metrics.js';
import { parseSamples, valueOf } from '../../../fixtures/prom-text.js';

const service = { namespace: 'shop', name: 'db' };

/** The value of one series, written as printed in the docs, e.g. `baton_switches_total{kind="failover",function="failover"}`. */
function sample(text: string, series: string): number | undefined {
  const parsed = parseSamples(`${series} 0`)[0]!;
  return valueOf(parseSamples(text), parsed.name, parsed.labels);
}

describe('metrics', () => {
  it('counts switches by kind and times completion, with the function as a constant label', async () => {
    const m = createMetrics({ function: 'failover', serviceLabels: false });
    m.switched('failover', service);
    m.switched('failover', service);
    m.switched('switchover', service);
    m.completed('failover', 0.03, service);
    const text = await m.render();
    assert.equal(sample(text, 'baton_switches_total{kind="failover",function="failover"}'), 2);
    assert.equal(sample(text, 'baton_switches_total{kind="switchover",function="failover"}'), 1);
    assert.equal(sample(text, 'baton_switch_completion_seconds_count{kind="failover",function="failover"}'), 1);
    assert.equal(sample(text, 'baton_switch_completion_seconds_bucket{le="0.025",kind="failover",function="failover"}'), 0);
    assert.equal(sample(text, 'baton_switch_completion_seconds_bucket{le="0.05",kind="failover",function="failover"}'), 1);
  });

  it('exports every switch kind at 0 before the first switch, so a first switch is an increase', async () => {
    const text = await createMetrics({ function: 'failover', serviceLabels: false }).render();
    for (const kind of ['initial', 'failover', 'failback', 'switchover', 'cordon']) assert.equal(sample(text, `baton_switches_total{kind="${kind}",function="failover"}`), 0, kind);
    assert.equal(sample(text, 'baton_unavailable_total{function="failover"}'), 0);
    // With per-Service labels the series are not known up front.
    const labelled = await createMetrics({ function: 'failover', serviceLabels: true }).render();
    assert.equal(sample(labelled, 'baton_switches_total{kind="failover",function="failover"}'), undefined);
  });

  it('counts hook calls by hook and outcome, every pair exported at 0 first, with nothing else in the labels', async () => {
    for (const serviceLabels of [false, true]) {
      const m = createMetrics({ function: 'failover', serviceLabels });
      const before = await m.render();
      for (const hook of ['promote', 'demote']) for (const outcome of ['ok', 'failed', 'timeout']) assert.equal(sample(before, `baton_hook_calls_total{hook="${hook}",outcome="${outcome}",function="failover"}`), 0, `${hook} ${outcome}`);
      m.hookCalled('promote', 'ok');
      m.hookCalled('promote', 'ok');
      m.hookCalled('demote', 'timeout');
      m.hookCalled('fence', 'exploded');
      const text = await m.render();
      assert.equal(sample(text, 'baton_hook_calls_total{hook="promote",outcome="ok",function="failover"}'), 2);
      assert.equal(sample(text, 'baton_hook_calls_total{hook="demote",outcome="timeout",function="failover"}'), 1);
      assert.equal(sample(text, 'baton_hook_calls_total{hook="other",outcome="other",function="failover"}'), 1);
      assert.ok(!text.includes('fence') && !text.includes('exploded'));
    }
  });

  it('names no namespace or Service unless asked to', async () => {
    const off = createMetrics({ function: 'failover', serviceLabels: false });
    off.switched('initial', service);
    off.routeConflict(service);
    const quiet = await off.render();
    assert.ok(!quiet.includes('shop') && !quiet.includes('"db"'), quiet);
    const on = createMetrics({ function: 'failover', serviceLabels: true });
    on.switched('initial', service);
    assert.equal(sample(await on.render(), 'baton_switches_total{kind="initial",namespace="shop",service="db",function="failover"}'), 1);
  });

  it('keeps label values to closed sets whatever a caller passes', async () => {
    const m = createMetrics({ function: 'routes', serviceLabels: false });
    m.eventHandled('Pod', 'handled', 0.001);
    m.eventHandled('Secret', 'made-up-outcome', 0.001);
    m.eventHandled(undefined, 'rejected', 0.001);
    const text = await m.render();
    assert.equal(sample(text, 'baton_events_total{kind="Pod",outcome="handled",function="routes"}'), 1);
    assert.equal(sample(text, 'baton_events_total{kind="Other",outcome="other",function="routes"}'), 1);
    assert.equal(sample(text, 'baton_events_total{kind="none",outcome="rejected",function="routes"}'), 1);
    assert.ok(!text.includes('Secret') && !text.includes('made-up'));
  });

  it('counts API requests by status class, and 409s as conflicts', async () => {
    const m = createMetrics({ function: 'failover', serviceLabels: false });
    m.apiRequest({ verb: 'patch', resource: 'services', status: 409 });
    m.apiRequest({ verb: 'patch', resource: 'services', status: 200 });
    m.apiRequest({ verb: 'list', resource: 'pods', status: undefined });
    const text = await m.render();
    assert.equal(sample(text, 'baton_api_requests_total{verb="patch",resource="services",code="4xx",function="failover"}'), 1);
    assert.equal(sample(text, 'baton_api_requests_total{verb="patch",resource="services",code="2xx",function="failover"}'), 1);
    assert.equal(sample(text, 'baton_api_requests_total{verb="list",resource="pods",code="error",function="failover"}'), 1);
    assert.equal(sample(text, 'baton_api_conflicts_total{resource="services",function="failover"}'), 1);
  });

  it('reads the index size at scrape time', async () => {
    const m = createMetrics({ function: 'failover', serviceLabels: false });
    let size = 3;
    m.knownServices(() => size);
    assert.equal(sample(await m.render(), 'baton_services_known{function="failover"}'), 3);
    size = 5;
    assert.equal(sample(await m.render(), 'baton_services_known{function="failover"}'), 5);
  });

  it('in-flight deliveries go back down once, however often a delivery ends', async () => {
    const m = createMetrics({ function: 'failover', serviceLabels: false });
    const done = m.eventStarted();
    m.eventStarted()();
    assert.equal(sample(await m.render(), 'baton_events_in_flight{function="failover"}'), 1);
    done();
    done();
    assert.equal(sample(await m.render(), 'baton_events_in_flight{function="failover"}'), 0);
  });

  it('a figure that cannot be recorded is dropped, never thrown at the caller', async () => {
    const m = createMetrics({ function: 'failover', serviceLabels: false });
    // prom-client refuses NaN with a TypeError; a switch must not fail over a figure.
    assert.doesNotThrow(() => m.completed('failover', Number.NaN, service));
    assert.doesNotThrow(() => m.detected(Number.NaN, service));
    assert.equal(sample(await m.render(), 'baton_switch_completion_seconds_count{kind="failover",function="failover"}'), undefined);
  });

    it('classes statuses', () => {
    assert.deepEqual([200, 201, 304, 404, 409, 503, undefined, 0, 999].map(statusClass), ['2xx', '2xx', '3xx', '4xx', '4xx', '5xx', 'error', 'error', 'error']);
  });
});
