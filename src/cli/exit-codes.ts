/** Exit codes of `discord-state-cache` (listed in the README's "Command line" section). */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** Failed: unreachable service or database, refused token, unreadable file, pending migrations, … */
  failure: 1,
  /** Wrong command line (unknown option, missing argument, conflicting options). */
  usage: 2,
  /** replay: stopped at an invalid line (not JSON, or rejected by the service). */
  stoppedAtInvalidLine: 3,
  /** replay --skip-invalid: every line read, and some were invalid and skipped. */
  skippedInvalidLines: 4,
  /** replay: interrupted (Ctrl-C) after delivering what was already sent. */
  interrupted: 130,
} as const;

/** A failure the command reports in one line (no stack trace), with its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}
