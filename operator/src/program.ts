/**
 * What Lathe's long-running processes (the operator, the web console) do the same way at start
 * and at a fatal error: answer `--help` and `--version` before reading any configuration (after
 * every module has loaded, so an image's smoke test proves the program is whole), read the
 * configuration or exit with code 2 and one message naming every bad variable, and exit with
 * code 1 on a fatal error, its stack on stderr.
 */
import { ConfigError, LATHE_VERSION } from './config.js';

/** A program's name as `--version` prints it, and its `--help` text. */
export interface ProgramInfo {
  name: string;
  usage: string;
}

/**
 * Answers --help and --version; exits with code 2 on any other argument. True when the process
 * should exit (a flag was answered).
 */
export function answeredFlags(argv: readonly string[], program: ProgramInfo): boolean {
  if (argv.includes('--version')) {
    process.stdout.write(`${program.name} ${LATHE_VERSION} (Node.js ${process.version})\n`);
    return true;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(program.usage);
    return true;
  }
  if (argv.length > 0) {
    process.stderr.write(`Unknown argument ${argv[0]}\n\n${program.usage}`);
    process.exit(2);
  }
  return false;
}

/** The configuration `load` reads, or exit code 2 with its message when it is invalid. */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/** Writes a fatal error's stack to stderr and exits with code 1. */
export function exitFatally(error: unknown): never {
  process.stderr.write(
    `Fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}
