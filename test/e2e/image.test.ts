import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCommand } from "../../src/localcluster/processes.js";
import { imageConfig, repoRoot } from "../harness/index.js";

/**
 * The image's file set, built by the script the Dockerfile runs for its final stage: what `serin run`
 * needs, and no tests, fixtures, benches, local control plane or development packages.
 */
const script = join(repoRoot, "scripts", "image-files.mjs");
const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");

test("the file set holds serin's modules and production packages, and nothing only tests use", async () => {
  const listed = await runCommand(process.execPath, [script, "--list"]);
  assert.equal(listed.code, 0, listed.stderr);
  const files = listed.stdout.trim().split("\n");
  for (const needed of [
    "package.json",
    "dist/src/cli/main.js",
    "dist/src/cli/controller-run.js",
    "dist/src/watch/watcher.js",
  ])
    assert.ok(files.includes(needed), `${needed} is in the image`);
  assert.ok(files.some((file) => file.startsWith("node_modules/@kubernetes/client-node/")));
  const ours = files.filter((file) => !file.startsWith("node_modules/"));
  const unwanted = ours.filter((file) =>
    /\.test\.js|fixtures|^dist\/(test|bench)\/|\/localcluster\/|demo-story|\.ts$/.test(file),
  );
  assert.deepEqual(unwanted, []);
  assert.ok(ours.every((file) => file === "package.json" || file.startsWith("dist/src/")));
  // What npm itself would leave out with --omit=dev: the packages the lock file marks development-only
  // (@types/node stays: a production package depends on it).
  const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const devOnly = Object.entries(lock.packages).filter(([path, meta]) => path && meta.dev);
  assert.ok(devOnly.some(([path]) => path === "node_modules/typescript"));
  for (const [path] of devOnly)
    assert.ok(!files.some((file) => file.startsWith(`${path}/`)), `${path} (development only) is left out`);
});

test("laid out alone, the file set runs serin, and serin demo says it needs a clone", async () => {
  const dir = await mkdtemp(join(tmpdir(), "serin-image-"));
  try {
    const out = join(dir, "app");
    const laid = await runCommand(process.execPath, [script, "--out", out]);
    assert.equal(laid.code, 0, laid.stderr);
    const main = join(out, "dist", "src", "cli", "main.js");
    const version = await runCommand(process.execPath, [main, "--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^serin \d+\.\d+\.\d+/);
    for (const command of ["run", "check-webhook"]) {
      const help = await runCommand(process.execPath, [main, command, "--help"]);
      assert.equal(help.code, 0, help.stderr);
    }
    const demo = await runCommand(process.execPath, [main, "demo"]);
    assert.equal(demo.code, 1);
    assert.match(demo.stderr, /serin demo runs from a clone of the repository/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the Dockerfile's final stage is the file set, on a supported Node LTS, as a numeric non-root user", () => {
  const config = imageConfig(dockerfile);
  assert.match(config.base, /^node:(22|24)-/);
  assert.match(config.user, /^[1-9]\d*:[1-9]\d*$/);
  assert.deepEqual(config.entrypoint, ["node", "--enable-source-maps", "dist/src/cli/main.js"]);
  assert.deepEqual(config.cmd, ["run"]);
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const copies = finalStage.split("\n").filter((line) => line.startsWith("COPY"));
  assert.deepEqual(copies, ["COPY --from=build /image/ ./"]);
  assert.match(dockerfile, /RUN .*node scripts\/image-files\.mjs --out \/image/);
});
