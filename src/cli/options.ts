import { type Argument, InvalidArgumentError, Option } from "commander";
import { ConfigError, parseDurationFlag } from "../config.js";
import { parseDuration } from "../contract/duration.js";

/** Adapts a config parser to commander, which reports InvalidArgumentError with the flag's name. */
export function flag<T>(parse: (text: string, name: string) => T, name: string) {
  return (text: string): T => {
    try {
      return parse(text, name);
    } catch (error) {
      if (error instanceof ConfigError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

/** For repeatable flags. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * A flag parsed by `parse`, whose default help shows as the user would type it (`0.0.0.0:8443`, `1m`),
 * not as commander would print the parsed value (`{"host":"0.0.0.0","port":8443}`, `60000`).
 */
export function parsedOption<T>(
  flags: string,
  description: string,
  parse: (text: string, name: string) => T,
  written?: string,
): Option {
  const option = new Option(flags, description);
  option.argParser(flag(parse, option.long ?? option.name()));
  if (written !== undefined) option.default(parse(written, option.long ?? option.name()), written);
  return option;
}

/** A flag with a plain text default, shown without quotes. */
export function textOption(flags: string, description: string, written: string): Option {
  return new Option(flags, description).default(written, written);
}

/** A Go-style duration flag (`15s`, `1m`), parsed to milliseconds. */
export function durationOption(flags: string, description: string, written?: string): Option {
  return parsedOption(flags, description, parseDurationFlag(parseDuration), written);
}

/** What the shell may offer for a flag's value or an argument. */
export type ValueHint =
  /** Deployments labelled for serin in the namespace the command line names. */
  | { kind: "deployments" }
  | { kind: "namespaces" }
  | { kind: "contexts" }
  | { kind: "files" }
  | { kind: "directories" }
  | { kind: "words"; words: readonly string[] };

const hints = new WeakMap<Option | Argument, ValueHint>();

/** Marks what completes a flag's value or an argument (see completion.ts). */
export function completeWith<T extends Option | Argument>(item: T, hint: ValueHint): T {
  hints.set(item, hint);
  return item;
}

export function completionHint(item: Option | Argument): ValueHint | undefined {
  return hints.get(item);
}

/** `--kubeconfig <file>`, as every command that talks to a cluster takes it. */
export function kubeconfigOption(): Option {
  return completeWith(
    new Option(
      "--kubeconfig <file>",
      "kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the in-cluster service account)",
    ),
    { kind: "files" },
  );
}
