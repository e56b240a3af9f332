export interface EnvProblem {
  readonly variable: string;
  /** The value as it was set; undefined when the variable was absent. */
  readonly value: string | undefined;
  readonly message: string;
}

/** Thrown once with every bad variable, so a misconfigured deploy is fixed in one round. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly EnvProblem[];

  constructor(problems: readonly EnvProblem[]) {
    const lines = problems.map((p) => `  ${p.variable}=${show(p.value)}: ${p.message}`);
    super(`invalid configuration (${problems.length} ${problems.length === 1 ? 'variable' : 'variables'}):\n${lines.join('\n')}`);
    this.problems = problems;
  }
}

function show(value: string | undefined): string {
  if (value === undefined) return '(unset)';
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}
