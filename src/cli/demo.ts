import { Command } from "commander";
import { parseDurationFlag } from "../config.js";
import { parseDuration } from "../contract/duration.js";
import { flag } from "./options.js";

/**
 * `serin demo`: the whole canary story on a local control plane (a real kube-apiserver and etcd built
 * from their Go modules by `npm run setup`), narrated. The control plane and its helpers are the test
 * harness's, loaded only when the demo runs.
 */
export function demoCommand(): Command {
  return new Command("demo")
    .description("the whole canary story on a local control plane, no cluster needed")
    .option(
      "--step-interval <duration>",
      "how long each step is held",
      flag(parseDurationFlag(parseDuration), "--step-interval"),
      2_000,
    )
    .option("--keep", "keep the control plane running at the end and print how to reach it", false)
    .action(async (flags: { stepInterval: number; keep: boolean }) => {
      const { runDemo } = await import("./demo-story.js");
      await runDemo(flags);
    });
}
