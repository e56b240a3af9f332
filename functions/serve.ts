// Container entry point: one image serves every function; the first argument (or
// BATON_FUNCTION) says which. Kept apart from the CLI, which carries local test tooling.
const FUNCTIONS = ['failover', 'resync', 'routes'] as const;
type FunctionName = (typeof FUNCTIONS)[number];

const name = process.argv[2] ?? process.env.BATON_FUNCTION;
if (!FUNCTIONS.includes(name as FunctionName)) {
  process.stderr.write(`baton: say which function to serve: ${FUNCTIONS.join(' | ')} (argument or BATON_FUNCTION; got ${JSON.stringify(name ?? null)})\n`);
  process.exit(64);
}
try {
  if (name === 'failover') await (await import('./failover/main.js')).startFailover(process.env);
  else if (name === 'routes') await (await import('./routes/main.js')).startRoutes(process.env);
  else await (await import('./resync/main.js')).startResync(process.env, { tick: process.env.BATON_RESYNC_TICK === 'true' });
} catch (error) {
  process.stderr.write(`baton ${name}: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
