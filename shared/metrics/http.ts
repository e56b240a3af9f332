// The metrics' HTTP face: GET /metrics on the function's own port, or on a port of its
// own (BATON_METRICS_PORT), and the glue that turns the server's and the API client's
// observations into figures. The page carries the figures and nothing else: no request
// echo, no error text, and GET only (a POST there is a 404, never a delivery).
import express, { type RequestHandler } from 'express';
import type { DeliveryObserver } from '../http/observe.js';
import { listen, type RunningServer } from '../http/listen.js';
import type { RequestObserver } from '../k8s/observe.js';
import { describeRequest } from './api.js';
import type { Metrics } from './metrics.js';

/** Deliveries whose event time lies further ahead than this are a skewed clock, not a lag. */
const FUTURE_TOLERANCE_MS = 60_000;

export function metricsPage(metrics: Metrics): RequestHandler {
  return (_req, res) => {
    metrics.render().then(
      (text) => {
        res.status(200).setHeader('Content-Type', metrics.contentType).setHeader('Cache-Control', 'no-store').end(text);
      },
      () => {
        res.status(500).json({ error: 'metrics could not be rendered; see the function log' });
      },
    );
  };
}

export function deliveryObserver(metrics: Metrics): DeliveryObserver {
  return {
    started: () => metrics.eventStarted(),
    ended: (d) => {
      metrics.eventHandled(d.kind, d.outcome, d.seconds);
      // The time attribute is the sender's word: anyone who can deliver can skew this
      // figure (and only this one), never a decision. BATON_AUTH=require closes that.
      if (d.eventTime === undefined) return;
      const sent = Date.parse(d.eventTime);
      if (Number.isNaN(sent) || sent - d.arrivedAt > FUTURE_TOLERANCE_MS) return;
      metrics.eventDelay((d.arrivedAt - sent) / 1000);
    },
  };
}

export function apiObserver(metrics: Metrics): RequestObserver {
  return ({ method, url, contentType, status }) => metrics.apiRequest({ ...describeRequest(method, url, contentType), status });
}

/** A listener that serves only GET /metrics (and nothing else: 404). */
export async function listenMetrics(metrics: Metrics, host: string | undefined, port: number): Promise<RunningServer> {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/metrics', metricsPage(metrics));
  app.use((_req, res) => {
    res.status(404).json({ error: 'only GET /metrics is served on this port' });
  });
  return listen(app, { host, port });
}
