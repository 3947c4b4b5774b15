// `serin list` and `serin status --watch` on the local cluster, as an on-call engineer and a CI pipeline
// run them: every output format against its golden file (times, ages and revisions normalised), the
// live view on a terminal and in a log, and the exit codes a pipeline waits on.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { deploymentManifest, serviceManifest } from "../fixtures/manifests.js";
import { repoRoot, waitFor, withControlPlane } from "../harness/index.js";
import { Journey, startCanaryWatcher } from "./journey.js";

const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const V2 = "registry.example/web:2.0.0";
const V3 = "registry.example/web:3.0.0";
// An hour per step: the canary stays where the test put it until someone acts.
const ESC = "\u001b";
const annotations = { "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" };

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  stdout(): string;
  /** Resolves once stdout matches. */
  printed(pattern: RegExp, timeoutMs?: number): Promise<void>;
  ended: Promise<Ran>;
}

function start(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ended = new Promise<Ran>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
  return {
    child,
    stdout: () => stdout,
    printed: (pattern, timeoutMs = 20_000) =>
      waitFor(async () => (pattern.test(stdout) ? true : undefined), {
        timeoutMs,
        intervalMs: 50,
        what: `output matching ${pattern} (so far: ${JSON.stringify(stdout)}; stderr ${JSON.stringify(stderr)})`,
      }).then(() => undefined),
    ended,
  };
}

const run = (command: string, args: readonly string[], env: NodeJS.ProcessEnv) =>
  start(command, args, env).ended;

/** What changes from run to run: revisions, times and ages. */
function normalise(text: string): string {
  return text
    .replace(/\b[0-9a-f]{10}\b/g, "<revision>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>");
}

/** A table with its columns as cells between bars, and the AGE column normalised. */
function normaliseTable(text: string): string {
  const lines = normalise(text).trimEnd().split("\n");
  const header = (lines[0] ?? "").split(/ {3,}/);
  const ageColumn = header.indexOf("AGE");
  return `${lines
    .map((line) =>
      line
        .split(/ {3,}/)
        .map((cell, index) => (index === ageColumn && /^(\d+[smhd])+$/.test(cell) ? "<age>" : cell))
        .join(" | "),
    )
    .join("\n")}\n`;
}

/** Compares with test/fixtures/golden/NAME; SERIN_UPDATE_GOLDEN=1 writes it instead. */
async function golden(name: string, actual: string): Promise<void> {
  const file = join(repoRoot, "test", "fixtures", "golden", name);
  if (process.env.SERIN_UPDATE_GOLDEN === "1") await writeFile(file, actual);
  assert.equal(actual, await readFile(file, "utf8"), `golden file ${name}`);
}

const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });

describe("serin list and serin status --watch on a cluster", () => {
  let home: string;
  let shell: NodeJS.ProcessEnv;
  let web: Journey;
  let cart: Journey;
  const serin = (...args: string[]) => run("serin", args, shell);

  before(
    async () => {
      await startCanaryWatcher(env.cp);

      home = await mkdtemp(join(tmpdir(), "serin-cli-watch-"));
      const bin = join(home, "bin");
      await mkdir(bin);
      const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
        bin: Record<string, string>;
      };
      for (const [name, file] of Object.entries(manifest.bin))
        await symlink(join(repoRoot, file), join(bin, name));
      const admin = parse(await readFile(env.cp.adminKubeconfig, "utf8"));
      admin.contexts[0].context.namespace = "shop";
      const kubeconfig = join(home, "config");
      await writeFile(kubeconfig, stringify(admin), { mode: 0o600 });
      shell = { PATH: `${bin}:${process.env.PATH}`, HOME: home, KUBECONFIG: kubeconfig };

      web = new Journey(env.cp, "shop", route);
      await web.create({ annotations });
      cart = new Journey(env.cp, "shop", route, "cart");
      await cart.apply(serviceManifest("cart"));
      await cart.apply(deploymentManifest({ name: "cart", annotations }));
      await cart.waitForPhase("Idle");
      await cart.apply(deploymentManifest({ name: "plain", enabled: false }));
      await new Journey(env.cp, "elsewhere", route, "api").create({ annotations });

      await web.ship(V2, { annotations });
      await web.waitForPhase("Progressing");
      await web.waitForCanaryWeight(1_000);
      await cart.ship(V2, { annotations });
      await cart.waitForPhase("Progressing");
      await cart.annotate("serin.dev/action", "abort");
      await cart.waitForPhase("Aborted");
    },
    { timeout: 180_000 },
  );

  after(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  test("serin list: the context's namespace, live canaries first, each format as its golden file", async () => {
    const table = await serin("list");
    assert.equal(table.code, 0, table.stderr);
    await golden("list.txt", normaliseTable(table.stdout));
    const all = await serin("list", "-A");
    assert.equal(all.code, 0, all.stderr);
    await golden("list-all-namespaces.txt", normaliseTable(all.stdout));
    const wide = await serin("list", "-o", "wide");
    assert.equal(wide.code, 0, wide.stderr);
    await golden("list-wide.txt", normaliseTable(wide.stdout));
    const json = await serin("list", "-o", "json");
    assert.equal(json.code, 0, json.stderr);
    await golden("list.json", normalise(json.stdout));
    const yaml = await serin("list", "-o", "yaml");
    assert.equal(yaml.code, 0, yaml.stderr);
    await golden("list.yaml", normalise(yaml.stdout));
    assert.deepEqual(parse(yaml.stdout), JSON.parse(json.stdout), "yaml and json say the same");

    const empty = await serin("list", "-n", "serin-system");
    assert.deepEqual(
      [empty.code, empty.stdout, empty.stderr],
      [0, "", "No canaries found in namespace serin-system.\n"],
    );
    const wrong = await serin("list", "-o", "xml");
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /argument 'xml' is invalid\. Allowed choices are wide, json, yaml\./);
  });

  test("the README's kubectl one-liners show the same phase and weight", async () => {
    const labels = await env.cp.kubectl([
      "get",
      "deploy",
      "-A",
      "-l",
      "serin.dev/canary=enabled",
      "-L",
      "serin.dev/phase,serin.dev/weight",
    ]);
    assert.equal(labels.code, 0, labels.stderr);
    assert.match(labels.stdout, /^shop\s+web\s+.*\sProgressing\s+10$/m);
    assert.match(labels.stdout, /^shop\s+cart\s+.*\sAborted\s+\d+$/m);
    const columns = await env.cp.kubectl([
      "get",
      "deploy",
      "-A",
      "-l",
      "serin.dev/canary=enabled",
      "-o",
      "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,PHASE:.metadata.labels.serin\\.dev/phase,WEIGHT:.metadata.labels.serin\\.dev/weight,REVISION:.metadata.annotations.serin\\.dev/pending-revision",
    ]);
    assert.equal(columns.code, 0, columns.stderr);
    assert.match(columns.stdout, /^shop\s+web\s+Progressing\s+10\s+[0-9a-f]{10}$/m);
    assert.match(columns.stdout, /^elsewhere\s+api\s+Idle\s+0\s+<none>$/m);
  });

  test("status --watch in a log: one plain line per change, the commands to act, and exit 3 at --timeout", async () => {
    const result = await serin("status", "web", "--watch", "--timeout", "2s");
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stderr, "serin: deployment shop/web: still Progressing after 2s\n");
    assert.match(
      result.stdout,
      /^\d\d:\d\d:\d\d shop\/web: Progressing \| weight 10% \(step 1 of 2\) \| TrafficSplit web: web-stable 90% \(9000\) · web-canary 10% \(1000\) \| revision [0-9a-f]{10} \| Canary weight 10% \(step 1 of 2\); held for 1h\.$/m,
    );
    assert.match(
      result.stdout,
      /^\d\d:\d\d:\d\d event CanaryStarted: Canary of revision [0-9a-f]{10} started\.$/m,
    );
    assert.match(result.stdout, /^ {4}to act: serin abort web -n shop +all traffic back to stable/m);
    assert.ok(!result.stdout.includes(`${ESC}[`), "no terminal codes in a log");

    for (const [args, message] of [
      [["--timeout", "0.5s"], /--timeout "0\.5s" is not a duration from 1s to 24h/],
      [["--timeout", "25h"], /--timeout "25h" is not a duration from 1s to 24h/],
    ] as const) {
      const refused = await serin("status", "web", "-w", ...args);
      assert.equal(refused.code, 2, args.join(" "));
      assert.match(refused.stderr, message);
    }
    const withoutWatch = await serin("status", "web", "--timeout", "5s");
    assert.deepEqual([withoutWatch.code, withoutWatch.stderr], [2, "serin: --timeout 5s needs --watch\n"]);
  });

  test("status --watch on a terminal redraws the view in place: steps, split, time left, events, commands", async () => {
    // script(1) gives the command a pseudo-terminal, as an engineer's shell would.
    const result = await run("script", ["-qec", "serin status web --watch --timeout 3s", "/dev/null"], shell);
    assert.equal(result.code, 3, result.stdout);
    const screen = result.stdout;
    assert.match(screen, new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`), "the view went back up over itself");
    assert.match(screen, /steps: {6}\[#*-+\] >10%< {2}50%/);
    assert.match(screen, /split: {6}TrafficSplit web: web-stable 90% \(9000\) · web-canary 10% \(1000\)/);
    assert.match(screen, /step: {7}\d+s held of 1h, 59m\d+s left/);
    assert.match(
      screen,
      /^ {12}\d\d:\d\d:\d\d {2}CanaryStarted: Canary of revision [0-9a-f]{10} started\.\r?$/m,
    );
    assert.match(screen, /act: {8}serin promote web -n shop +skip the remaining steps/);
  });

  test("a pipeline waits on a rollout: status --watch && deploy-next goes on once it Succeeded (exit 0)", async () => {
    const waiting = start("bash", ["-c", "serin status web --watch && echo deploy-next"], shell);
    await waiting.printed(/shop\/web: Progressing/);
    const promoted = await serin("promote", "web");
    assert.equal(promoted.code, 0, promoted.stderr);
    const result = await waiting.ended;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /shop\/web: Succeeded \| weight 0% .*Revision [0-9a-f]{10} promoted/);
    assert.match(result.stdout, /deploy-next\n$/);
    assert.equal(await web.image(), V2);
  });

  test("an aborted rollout ends status --watch with exit 1 and the reason, also as kubectl serin", async () => {
    await web.ship(V3, { annotations });
    await web.waitForCanaryWeight(1_000);
    const waiting = start("bash", ["-c", "kubectl serin status web -w && echo deploy-next"], shell);
    await waiting.printed(/shop\/web: Progressing \| weight 10%/);
    assert.match(waiting.stdout(), /to act: kubectl serin abort web -n shop/);
    assert.equal((await serin("abort", "web")).code, 0);
    const result = await waiting.ended;
    assert.equal(result.code, 1, result.stdout);
    assert.match(
      result.stderr,
      /^kubectl serin: deployment shop\/web: canary Aborted: Aborted revision [0-9a-f]{10}: aborted by the user at 10%\.\n$/,
    );
    assert.doesNotMatch(result.stdout, /deploy-next/);
  });

  test("list --watch in a log prints a canary again when it changes", async () => {
    const watching = start("serin", ["list", "--watch"], shell);
    try {
      await watching.printed(/^NAMESPACE\s+NAME\s+PHASE/m);
      await watching.printed(/^shop\s+cart\s+Aborted\s+0%/m);
      assert.equal((await serin("retry", "cart")).code, 0);
      await watching.printed(/^shop\s+cart\s+Progressing\s+10%\s+1\/2\s+[0-9a-f]{10}\s/m);
      assert.equal(watching.stdout().match(/^NAMESPACE/gm)?.length, 1, "one header");
    } finally {
      watching.child.kill("SIGTERM");
      await watching.ended;
    }
  });
});
