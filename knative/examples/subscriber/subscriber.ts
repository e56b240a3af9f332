// A subscriber to baton's audit events, typed end to end. Copy it into a project that
// depends on baton and cloudevents; the schemas come from the package export
// "baton/events", so a field baton renames fails your build, not your pager.
import { createServer } from 'node:http';
import { CloudEvent, HTTP } from 'cloudevents';
import { parseAuditEvent, type AuditEvent } from 'baton/events';

function describe(event: AuditEvent): string {
  switch (event.type) {
    case 'dev.baton.failover.promoted':
    case 'dev.baton.failover.switchover':
      return `term ${event.data.term}: ${event.data.from?.name ?? '(none)'} -> ${event.data.to.name} (${event.data.reason})`;
    case 'dev.baton.failover.completed':
      return `term ${event.data.term}: only ${event.data.active.name} serves, ${event.data.latencyMs} ms after the decision`;
    case 'dev.baton.failover.unavailable':
      return `no healthy pod among ${event.data.candidates}`;
    default:
      return event.type;
  }
}

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let parsed: ReturnType<typeof parseAuditEvent> | undefined;
    try {
      const event = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (event instanceof CloudEvent) parsed = parseAuditEvent(event.toJSON());
    } catch {
      // Not a CloudEvent at all: same answer as one that fails the schema.
    }
    // 400 is not retried by the Broker: a malformed event will not get better.
    if (!parsed?.success) return void res.writeHead(400).end();
    console.log(`${parsed.data.type} ${parsed.data.subject} ${describe(parsed.data)}`);
    // An empty 2xx: any other body would be taken as a (bad) reply event.
    res.writeHead(204).end();
  });
}).listen(Number(process.env.PORT ?? 8080));
