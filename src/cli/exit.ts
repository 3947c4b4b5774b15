/**
 * How a `serin` command ends, for the shell and for scripts. Only src/cli/ turns these into an exit code.
 *
 *   0  done
 *   1  the command could not do what was asked: the cluster unreachable, the Deployment missing or not
 *      enabled, the apiserver refusing the change
 *   2  the command line is wrong: unknown command or flag, a bad flag value, a missing argument
 *   3  `status --watch --timeout` ran out of time before the canary ended
 *
 * `status --watch` also ends with 1 when the canary it follows is Aborted: a pipeline stops there.
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  timeout: 3,
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
