// Shell completion. The scripts `serin completion bash|zsh` print are small and generic: they call
// `serin __complete WORD...` with the words typed so far, and offer what it prints. That answer is cobra's
// protocol (one candidate a line, then ":DIRECTIVE"), so kubectl's own completion of `kubectl serin ...`
// uses it too, through the `kubectl_complete-serin` executable.
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { Argument, Command, type Help, type Option } from "commander";
import { ENABLED_LABEL, ENABLED_VALUE } from "../contract/keys.js";
import { type ClusterEnv, type ClusterFlags, connectCluster } from "./cluster.js";
import { completionHint, type ValueHint } from "./options.js";

/** cobra's ShellCompDirective bits. */
export const Directive = {
  default: 0,
  noFileCompletion: 4,
  filterDirectories: 16,
} as const;

/** What the words typed so far ask for: fixed words, or a lookup in the kubeconfig or the cluster. */
export interface CompletionPlan {
  hint: ValueHint | { kind: "none" };
  /** The word being completed; candidates start with it. */
  current: string;
  /** Text that goes before each candidate (for `--flag=value`). */
  prefix: string;
  /** -n, --context and --kubeconfig as typed, for lookups in the right place. */
  cluster: ClusterFlags;
}

const CLUSTER_FLAGS: Record<string, "namespace" | "context" | "kubeconfig"> = {
  namespace: "namespace",
  context: "context",
  kubeconfig: "kubeconfig",
};

function findOption(help: Help, command: Command, name: string): Option | undefined {
  for (let at: Command | null = command; at; at = at.parent) {
    const found = help.visibleOptions(at).find((option) => option.long === name || option.short === name);
    if (found) return found;
  }
  return undefined;
}

function takesValue(option: Option): boolean {
  return option.required || option.optional;
}

function optionNames(help: Help, command: Command): string[] {
  return help
    .visibleOptions(command)
    .flatMap((option) => [option.long, option.short])
    .filter((name): name is string => name !== undefined);
}

function commandNames(help: Help, command: Command): string[] {
  return help.visibleCommands(command).flatMap((sub) => [sub.name(), ...sub.aliases()]);
}

function valueHint(item: Option | Argument): ValueHint | { kind: "none" } {
  const hint = completionHint(item);
  if (hint) return hint;
  const choices = item instanceof Argument ? item.argChoices : item.argChoices;
  return choices ? { kind: "words", words: choices } : { kind: "none" };
}

/**
 * What to offer after `words` (the words after the program's name, the last one being completed, maybe
 * ""), read from the program's own commands, flags and arguments.
 */
export function planCompletion(program: Command, words: readonly string[]): CompletionPlan {
  const help = program.createHelp();
  const typed = words.slice(0, -1);
  const current = words[words.length - 1] ?? "";
  const cluster: ClusterFlags = {};
  let command = program;
  // commander's implicit help command has no parent: remember where it was found.
  let parent: Command | undefined;
  let operands = 0;
  let onlyOperands = false;
  const plan = (hint: CompletionPlan["hint"], prefix = "", word = current): CompletionPlan => ({
    hint,
    current: word,
    prefix,
    cluster,
  });
  const remember = (option: Option, value: string) => {
    const key = CLUSTER_FLAGS[option.attributeName()];
    if (key) cluster[key] = value;
  };

  for (let index = 0; index < typed.length; index++) {
    const word = typed[index] as string;
    if (word === "--" && !onlyOperands) {
      onlyOperands = true;
      continue;
    }
    if (!onlyOperands && word.startsWith("-") && word.length > 1) {
      const equals = word.startsWith("--") ? word.indexOf("=") : -1;
      const name = equals > 0 ? word.slice(0, equals) : word.startsWith("--") ? word : word.slice(0, 2);
      const option = findOption(help, command, name);
      if (!option || !takesValue(option)) continue;
      const attached = equals > 0 ? word.slice(equals + 1) : word.startsWith("--") ? "" : word.slice(2);
      if (attached !== "") {
        remember(option, attached);
        continue;
      }
      if (index + 1 === typed.length) return plan(valueHint(option));
      remember(option, typed[index + 1] as string);
      index++;
      continue;
    }
    const sub =
      operands === 0
        ? help.visibleCommands(command).find((candidate) => candidate.name() === word)
        : undefined;
    if (sub) {
      parent = command;
      command = sub;
    } else operands++;
  }

  if (!onlyOperands && current.startsWith("--") && current.includes("=")) {
    const equals = current.indexOf("=");
    const option = findOption(help, command, current.slice(0, equals));
    if (option && takesValue(option)) {
      return plan(valueHint(option), current.slice(0, equals + 1), current.slice(equals + 1));
    }
    return plan({ kind: "none" });
  }
  if (!onlyOperands && current.startsWith("-")) {
    return plan({ kind: "words", words: optionNames(help, command) });
  }
  // `serin help <command>`: commander's help command, whose argument is one of its parent's commands.
  if (command.name() === "help" && parent && operands === 0) {
    return plan({
      kind: "words",
      words: commandNames(help, parent).filter((name) => name !== "help"),
    });
  }
  if (help.visibleCommands(command).length > 0 && operands === 0) {
    return plan({ kind: "words", words: commandNames(help, command) });
  }
  const declared = command.registeredArguments;
  const last = declared[declared.length - 1];
  const argument = declared[operands] ?? (last?.variadic ? last : undefined);
  return plan(argument ? valueHint(argument) : { kind: "none" });
}

/** cobra's answer: the candidates that start with the word, one a line, then ":DIRECTIVE". */
export function formatCompletion(plan: CompletionPlan, found: readonly string[], directive: number): string {
  const lines = found.filter((word) => word.startsWith(plan.current)).map((word) => `${plan.prefix}${word}`);
  return [...lines, `:${directive}`].join("\n").concat("\n");
}

/** How long a lookup in the cluster may take before the shell gets no names rather than a hang. */
const LOOKUP_TIMEOUT_MS = 3_000;

async function lookUp(
  hint: CompletionPlan["hint"],
  flags: ClusterFlags,
  env: ClusterEnv,
): Promise<{ words: readonly string[]; directive: number }> {
  const none = Directive.noFileCompletion;
  switch (hint.kind) {
    case "none":
      return { words: [], directive: none };
    case "words":
      return { words: hint.words, directive: none };
    case "files":
      return { words: [], directive: Directive.default };
    case "directories":
      return { words: [], directive: Directive.filterDirectories };
    case "contexts": {
      const { config } = connectCluster({ ...flags, context: undefined }, env, LOOKUP_TIMEOUT_MS);
      return { words: config.getContexts().map((context) => context.name), directive: none };
    }
    case "namespaces": {
      const { config } = connectCluster(flags, env, LOOKUP_TIMEOUT_MS);
      const list = await config.makeApiClient(CoreV1Api).listNamespace();
      return { words: list.items.map((item) => item.metadata?.name ?? ""), directive: none };
    }
    case "deployments": {
      const cluster = connectCluster(flags, env, LOOKUP_TIMEOUT_MS);
      const list = await cluster.config.makeApiClient(AppsV1Api).listNamespacedDeployment({
        namespace: cluster.namespace,
        labelSelector: `${ENABLED_LABEL}=${ENABLED_VALUE}`,
      });
      return { words: list.items.map((item) => item.metadata?.name ?? ""), directive: none };
    }
  }
}

/**
 * Answers `serin __complete WORD...`. A failed lookup (no cluster, no rights) offers nothing: the shell
 * must never print an error in the middle of the line being typed.
 */
export async function complete(program: Command, words: readonly string[], env: ClusterEnv): Promise<string> {
  const plan = planCompletion(program, words);
  try {
    const { words: found, directive } = await lookUp(plan.hint, plan.cluster, env);
    return formatCompletion(plan, found, directive);
  } catch {
    return formatCompletion(plan, [], Directive.noFileCompletion);
  }
}

/** The bash script: `source <(serin completion bash)`. */
function bashScript(): string {
  return `# bash completion for serin. Load it in this shell: source <(serin completion bash)
# or for every shell: serin completion bash > /etc/bash_completion.d/serin
_serin_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" out directive candidates
  out=$(serin __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  directive="\${out##*$'\\n'}"
  directive="\${directive#:}"
  candidates=""
  [[ $out == *$'\\n'* ]] && candidates="\${out%$'\\n'*}"
  COMPREPLY=()
  if (( directive & 16 )); then
    compopt -o filenames 2>/dev/null
    local IFS=$'\\n'
    COMPREPLY=( $(compgen -d -- "$cur") )
    return 0
  fi
  local IFS=$'\\n'
  COMPREPLY=( $(compgen -W "$candidates" -- "$cur") )
  if (( \${#COMPREPLY[@]} == 0 && !(directive & 4) )); then
    compopt -o filenames 2>/dev/null
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
  return 0
}
complete -F _serin_complete serin
`;
}

/** The zsh script: `source <(serin completion zsh)` after compinit, or saved as _serin in $fpath. */
function zshScript(): string {
  return `#compdef serin
# zsh completion for serin. Load it in this shell (after compinit): source <(serin completion zsh)
# or for every shell: serin completion zsh > "\${fpath[1]}/_serin"
_serin() {
  local out directive
  local -a lines candidates
  out=$(serin __complete "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  directive=\${lines[-1]#:}
  candidates=("\${(@)lines[1,-2]}")
  if (( directive & 16 )); then
    _files -/
    return
  fi
  if (( \${#candidates} )); then
    compadd -- "\${candidates[@]}"
    return
  fi
  (( directive & 4 )) || _files
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _serin "$@"
else
  compdef _serin serin
fi
`;
}

/** `serin completion bash|zsh`. */
export function completionCommand(): Command {
  return new Command("completion")
    .description("print a script that completes serin's commands, flags and Deployment names")
    .addArgument(new Argument("<shell>", "bash or zsh").choices(["bash", "zsh"]))
    .addHelpText(
      "after",
      `
Load it in the current shell:
  bash:  source <(serin completion bash)
  zsh:   source <(serin completion zsh)     (after compinit)
Deployment names are looked up in the namespace of -n, else the current context's.
kubectl serin completes through kubectl's own completion (the kubectl_complete-serin executable).`,
    )
    .action((shell: "bash" | "zsh") => {
      process.stdout.write(shell === "bash" ? bashScript() : zshScript());
    });
}
