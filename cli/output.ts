/** Plain human output on stdout; errors on stderr with a non-zero exit, never a stack trace. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export class UsageError extends Error {}

export function fail(message: string): never {
  throw new UsageError(message);
}
