import { InvalidArgumentError } from "commander";
import { ConfigError } from "../config.js";

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
