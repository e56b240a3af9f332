// Teardown of everything a chaos run starts.

/** Runs registered teardown steps in reverse order, each at most once, never throwing. */
export class Cleanup {
  private readonly steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`chaos cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}
