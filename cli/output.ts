/** Plain human output on stdout; errors on stderr with a non-zero exit, never a stack trace. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export class UsageError extends Error {}

export function fail(message: string): never {
  throw new UsageError(message);
}

/** Left-aligned columns, two spaces apart; the first row is the header. */
export function sayTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) say(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}
