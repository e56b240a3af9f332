// The functions one image serves. Its own module so that the container entry point
// (serve.ts) can refuse a bad name before it loads anything else, and the CLI offers
// the same choices.
export const FUNCTIONS = ['failover', 'resync', 'routes'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export function isFunctionName(text: string | undefined): text is FunctionName {
  return FUNCTIONS.some((name) => name === text);
}
