// What every s2snets command line shares: the program's name and help, and how errors become
// one line on stderr and an exit status (0 success, 1 failure, 2 bad usage, 130 interrupted).
// An s2snets error's line carries its code (`s2snets: error S2SNETS_CONFIG: ...`, docs/errors.md),
// so scripts can tell failures apart without parsing the message.
import { Command } from 'commander';
import { S2SNetsError } from '../common/errors.js';
import { toolVersion } from '../common/version.js';

/** The bare `s2snets` program, commands to be added. */
export function newProgram(): Command {
  return new Command()
    .name('s2snets')
    .description('What do deep networks like to see? Measure and show the input signal an image classifier uses (S2SNets).')
    .version(toolVersion(), '-V, --version')
    // The error on one line and where the usage is, not the whole help (dozens of lines).
    .showHelpAfterError("(add --help to the command for its usage)")
    .exitOverride();
}

/**
 * Parses and runs `argv`, then exits on errors with their status.
 * @param program the command set
 * @param argv process.argv
 */
export async function runProgram(program: Command, argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    if (err.code?.startsWith('commander.')) process.exit(2);
    // A failed job's own code (JobFailedError.causeCode), read by field: importing the scheduler here would load the engine into `serve`.
    const causeCode = (e as { causeCode?: string }).causeCode;
    const cause = causeCode ? ` (${causeCode})` : '';
    const code = e instanceof S2SNetsError ? ` ${e.code}${cause}` : '';
    process.stderr.write(`s2snets: error${code}: ${err.message}\n`);
    process.exit(err.exitCode ?? 1);
  }
}
