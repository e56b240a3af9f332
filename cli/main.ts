import { Command, CommanderError } from 'commander';
import { clusterCommand } from './cluster.js';
import { kubectlCommand, sourceCommand } from './tools.js';
import { runCommand, statusCommand } from './run.js';
import { demoCommand } from './demo.js';
import { routesCommand } from './routes.js';
import { UsageError } from './output.js';

const program = new Command('baton')
  .description('active/standby failover for Kubernetes Services, as event-driven functions')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(clusterCommand());
program.addCommand(kubectlCommand());
program.addCommand(sourceCommand());
program.addCommand(runCommand());
program.addCommand(statusCommand());
program.addCommand(routesCommand());
program.addCommand(demoCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`baton: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
