import { Command, Option } from "commander";
import { durationOption } from "./options.js";

/**
 * `serin demo`: the whole canary story on a local cluster (real etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok, built from their Go modules by `npm run setup`),
 * narrated, with a real Prometheus for the analysis part where it is installed. The local cluster is
 * src/localcluster, loaded only when the demo runs.
 */
export function demoCommand(): Command {
  return new Command("demo")
    .description("the whole canary story on a local control plane, no cluster needed")
    .addOption(durationOption("--step-interval <duration>", "how long each step is held", "2s"))
    .option("--keep", "keep the local cluster running at the end and print how to reach it")
    .addOption(
      new Option("--cache <dir>", "where scripts/build-controlplane.sh cached the cluster's binaries")
        .env("SERIN_CACHE")
        .default("~/.cache/serin", "~/.cache/serin"),
    )
    .action(async (flags: { stepInterval: number; keep?: boolean; cache: string }) => {
      const { runDemo } = await import("./demo-story.js").catch((error: NodeJS.ErrnoException) => {
        // serin's image holds what `serin run` needs, not the demo's local cluster (scripts/image-files.mjs).
        if (error.code !== "ERR_MODULE_NOT_FOUND") throw error;
        throw new Error("serin demo runs from a clone of the repository (npm run demo), not from the image");
      });
      await runDemo({ ...flags, keep: flags.keep === true });
    });
}
