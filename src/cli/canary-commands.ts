// The operator's commands: `serin list`, `serin status` and the five actions. Only commander and the
// contract's names load here (completion loads every command file); each action imports what it runs.
import { Argument, Command, Option } from "commander";
import { ConfigError } from "../config.js";
import { formatDuration, MAX_DURATION_MS, parseDuration } from "../contract/duration.js";
import { ACTIONS, type Action, UserKey } from "../contract/keys.js";
import {
  type ClusterEnv,
  type ClusterFlags,
  clusterOptions,
  connectCluster,
  describeClusterError,
} from "./cluster.js";
import { CliError, ExitCode } from "./exit.js";
import { completeWith, parsedOption } from "./options.js";

type TargetFlags = Omit<ClusterFlags, "allNamespaces">;

function withTarget(command: Command): Command {
  command.addArgument(completeWith(new Argument("<name>", "the Deployment"), { kind: "deployments" }));
  return clusterOptions(command);
}

/** `--timeout`: a duration from 1s to 24h. */
export function parseTimeout(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1_000 || ms > MAX_DURATION_MS) {
    throw new ConfigError(`${flag} "${text}" is not a duration from 1s to 24h such as 30s, 10m or 1h`);
  }
  return ms;
}

/** The program's name as the user typed it: "serin" or "kubectl serin". */
function programName(command: Command): string {
  return command.parent?.name() ?? "serin";
}

function statusCommand(env: ClusterEnv): Command {
  return withTarget(
    new Command("status").description(
      "show a Deployment's canary: phase, weight, message; --watch follows it live until it ends",
    ),
  )
    .option("-w, --watch", "follow the canary live until it ends (see the exit codes below)")
    .addOption(
      parsedOption(
        "--timeout <duration>",
        "with --watch: give up after this long, from 1s to 24h (default: wait until the canary ends)",
        parseTimeout,
      ),
    )
    .addHelpText(
      "after",
      `
With --watch the view is redrawn in place on a terminal (steps, weights, time left in the step, the
last checks, the last events and the commands to act), and printed as plain lines, one per change,
when the output is not a terminal (a CI log). It ends when the canary does:

  0  Succeeded (or Idle: nothing to canary)
  1  Aborted; or the Deployment is not found or not enabled, or the cluster cannot be reached
  2  wrong command line
  3  --timeout ran out before the canary ended

So a pipeline can wait on a rollout:  kubectl apply -f web.yaml && serin status web --watch && deploy-next`,
    )
    .action(
      async (name: string, flags: TargetFlags & { watch?: boolean; timeout?: number }, command: Command) => {
        if (flags.timeout !== undefined && !flags.watch) {
          throw new CliError(`--timeout ${formatDuration(flags.timeout)} needs --watch`, ExitCode.usage);
        }
        const cluster = connectCluster(flags, env);
        const { followStatus, showStatus } = await import("./status-run.js");
        if (!flags.watch) return showStatus(cluster, name);
        await followStatus(cluster, name, {
          program: programName(command),
          ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
        });
      },
    );
}

function listCommand(env: ClusterEnv): Command {
  return clusterOptions(
    new Command("list")
      .alias("ls")
      .description("every Deployment enabled for serin and where its canary is, live ones first"),
    { allNamespaces: true },
  )
    .addOption(
      completeWith(
        new Option("-o, --output <format>", "wide (more columns), json or yaml (default: a table)").choices([
          "wide",
          "json",
          "yaml",
        ]),
        { kind: "words", words: ["wide", "json", "yaml"] },
      ),
    )
    .option("-w, --watch", "keep the list up to date (redrawn on a terminal, appended otherwise)")
    .addHelpText(
      "after",
      `
Columns: NAMESPACE, NAME, PHASE, WEIGHT (the canary's share), STEP (k/n while in flight), REVISION
(the revision in flight or just aborted), AGE (of the current step while in flight, else since the
latest transition Event; "-" once that has expired), MESSAGE. -o wide adds SERVICE, SPLIT (the
weights in force), LAST CHECK and ACTION (set, not yet acted on).`,
    )
    .action(async (flags: ClusterFlags & { output?: "wide" | "json" | "yaml"; watch?: boolean }) => {
      const cluster = connectCluster(flags, env);
      const { runList } = await import("./list-run.js");
      await runList(cluster, {
        ...(flags.output ? { output: flags.output } : {}),
        ...(flags.watch ? { watch: true } : {}),
      });
    });
}

function actionCommand(action: Action, env: ClusterEnv): Command {
  const what: Record<Action, string> = {
    promote: "skip the remaining steps and promote the canary",
    abort: "send all traffic back to stable and remove the canary",
    pause: "hold the canary at its current weight",
    resume: "carry on after a pause",
    retry: "start the aborted revision's canary again",
  };
  return withTarget(new Command(action).description(what[action])).action(
    async (name: string, flags: TargetFlags) => {
      const cluster = connectCluster(flags, env);
      const { AppsV1Api } = await import("@kubernetes/client-node");
      const { readEnabledDeployment } = await import("./canary-read.js");
      await readEnabledDeployment(cluster, name);
      try {
        await cluster.config.makeApiClient(AppsV1Api).patchNamespacedDeployment(
          {
            name,
            namespace: cluster.namespace,
            body: { metadata: { annotations: { [UserKey.action]: action } } },
          },
          (await import("../watch/kube.js")).mergePatch,
        );
      } catch (error) {
        throw new CliError(`setting ${UserKey.action}=${action}: ${describeClusterError(error, cluster)}`);
      }
      process.stdout.write(
        `${cluster.namespace}/${name}: ${UserKey.action}=${action} set; serin acts on it next\n`,
      );
    },
  );
}

/** `serin list`, `serin status` and the five actions; `env` is where the kubeconfig is looked up. */
export function canaryCommands(env: ClusterEnv): Command[] {
  return [listCommand(env), statusCommand(env), ...ACTIONS.map((action) => actionCommand(action, env))];
}
