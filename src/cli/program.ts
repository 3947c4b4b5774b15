import { Command, CommanderError } from "commander";
import { packageVersion } from "../version.js";
import { canaryCommands } from "./canary-commands.js";
import { certsCommand } from "./certs.js";
import { checkWebhookCommand } from "./check-webhook.js";
import { complete, completionCommand } from "./completion.js";
import { controllerCommands } from "./controller.js";
import { demoCommand } from "./demo.js";
import { CliError, ExitCode } from "./exit.js";
import { removeWebhookCommand } from "./remove-webhook.js";

/** "serin 0.1.0 (Node v20.11.1)": package.json's version and the Node running it. */
export function versionText(): string {
  return `serin ${packageVersion()} (Node ${process.version})`;
}

/** What `serin --help` ends with: enough to act on a canary without reading further. */
function onCallHelp(name: string): string {
  return `
Examples:
  ${name} list -A                every canary of the cluster, the live ones first
  ${name} status web -n shop     the canary of Deployment shop/web: phase, weight, message
  ${name} status web -w          follow it live until it ends: exit 0 Succeeded, 1 Aborted
  ${name} abort web -n shop      all traffic back to stable, then the canary is removed
  ${name} promote web            skip the remaining steps (namespace: the current context's)

Exit codes: 0 done; 1 failed (cluster unreachable, Deployment not found or not enabled, change refused,
or the canary followed by status --watch was Aborted); 2 wrong command line; 3 status --watch --timeout
ran out. See '${name} help <command>' for a command's flags.`;
}

/** Every command in the tree, the program first. */
function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/**
 * The `serin` program; `name` is what help calls it ("serin", or "kubectl serin" for the kubectl plugin).
 * `env` is where the operator's commands look up the kubeconfig.
 */
export function buildProgram(name: string, env: NodeJS.ProcessEnv): Command {
  const program = new Command(name)
    .description("Progressive canary delivery for plain Kubernetes Deployments")
    .version(versionText(), "-V, --version", "print serin's version and Node's")
    .addHelpText("after", onCallHelp(name));
  for (const command of controllerCommands()) program.addCommand(command);
  program.addCommand(certsCommand());
  program.addCommand(checkWebhookCommand());
  program.addCommand(removeWebhookCommand());
  for (const command of canaryCommands(env)) program.addCommand(command);
  program.addCommand(demoCommand());
  program.addCommand(completionCommand());
  program.addCommand(
    new Command("version").description("print serin's version and Node's").action(() => {
      process.stdout.write(`${versionText()}\n`);
    }),
  );
  // Commands added with addCommand inherit none of these: set them on each.
  for (const command of allCommands(program)) {
    const path = command === program ? name : `${name} ${command.name()}`;
    command.exitOverride().showHelpAfterError(`(see '${path} --help')`);
  }
  return program;
}

/**
 * Runs one command line (argv as process.argv has it) and says how the process should end. Errors are
 * written to stderr here, once, prefixed with the program's name.
 */
export async function runCli(
  name: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<ExitCode> {
  const program = buildProgram(name, env);
  const words = argv.slice(2);
  // Before commander: the words being completed may hold --help or --version, which must not act.
  if (words[0] === "__complete") {
    process.stdout.write(await complete(program, words.slice(1), env));
    return ExitCode.ok;
  }
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    // commander has already printed its message (or the help, or the version).
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    return error instanceof CliError ? error.exitCode : ExitCode.failed;
  }
}
