// Builds the tortiectl command tree and runs it to an exit code. Usage errors (commander's and
// ours) exit 2, failures 1; messages go to stderr without stack traces.
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.js';
import { CtlContext, type Output } from './context.js';
import { EXIT_OK, EXIT_USAGE, ReportedFailure, describeError } from './errors.js';

export interface RunOptions {
  out?: Output;
  err?: Output;
  env?: Record<string, string | undefined>;
}

export function buildProgram(ctx: CtlContext): Command {
  const program = new Command('tortiectl');
  program
    .description('Manage Tortie (Calico-style) resources in the datastore')
    .option('-c, --config <file>', 'datastore config file (calicoctl.cfg form); default /etc/tortie/tortiectl.cfg, else ETCD_* env')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.out.write(s), writeErr: (s) => ctx.err.write(s) });
  for (const register of COMMANDS) register(program, ctx);
  return program;
}

export async function runCtl(argv: readonly string[], opts: RunOptions = {}): Promise<number> {
  const out = opts.out ?? { write: (s: string) => void process.stdout.write(s) };
  const err = opts.err ?? { write: (s: string) => void process.stderr.write(s) };
  // Global options are read when a command first needs the datastore, i.e. after parsing.
  const holder: { program?: Command } = {};
  const ctx = new CtlContext(out, err, () => (holder.program?.opts() ?? {}) as { config?: string }, opts.env ?? process.env);
  const program = buildProgram(ctx);
  holder.program = program;
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message; help and version are not errors.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT_OK;
      return EXIT_USAGE;
    }
    if (e instanceof ReportedFailure) return e.exitCode;
    const d = describeError(e);
    err.write(`error: ${d.message}\n`);
    return d.exitCode;
  } finally {
    await ctx.close();
  }
}
