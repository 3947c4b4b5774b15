/**
 * How a `serin` command ends, for the shell and for scripts. Only src/cli/ turns these into an exit code.
 *
 *   0  done
 *   1  the command could not do what was asked: the cluster unreachable, the Deployment missing or not
 *      enabled, the apiserver refusing the change
 *   2  the command line is wrong: unknown command or flag, a bad flag value, a missing argument
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is written for the person at the terminal, as is. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failed,
  ) {
    super(message);
  }
}
