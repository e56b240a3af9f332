// What the container entry point (serve.ts) starts. Every function is imported
// statically so that one bundle (scripts/bundle.mjs) holds everything a function loads,
// evaluated up front, which is what its code cache then covers.
import { startFailover } from './failover/main.js';
import { startResync } from './failover/resync/main.js';
import { startRoutes } from './routes/main.js';
import type { FunctionName } from './names.js';

export async function start(name: FunctionName, env: NodeJS.ProcessEnv): Promise<void> {
  if (name === 'failover') await startFailover(env);
  else if (name === 'routes') await startRoutes(env);
  else await startResync(env, { tick: env.BATON_RESYNC_TICK === 'true' });
}
