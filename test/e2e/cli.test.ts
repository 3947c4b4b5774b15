// The operator's command line on the local cluster: serin and `kubectl serin` as an on-call engineer runs
// them (a kubeconfig with contexts, the commands on the PATH), their output, their exit codes, and the
// shell completion that looks names up in the cluster.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse, stringify } from "yaml";
import { deploymentManifest } from "../fixtures/manifests.js";
import { repoRoot, withControlPlane } from "../harness/index.js";
import { Journey, startCanaryWatcher } from "./journey.js";

const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const V2 = "registry.example/web:2.0.0";
const annotations = { "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" };

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 128, stdout, stderr }));
  });
}

const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });

describe("the serin command line on a cluster", () => {
  let home: string;
  let kubeconfig: string;
  let shell: NodeJS.ProcessEnv;
  let journey: Journey;
  /** `serin ARGS` from the PATH, as installed. */
  const serin = (...args: string[]) => run("serin", args, shell);
  /** `kubectl serin ARGS`: kubectl finds the plugin on the PATH. */
  const kubectlSerin = (...args: string[]) => run("kubectl", ["serin", ...args], shell);
  const bash = (script: string) => run("bash", ["-c", script], shell);

  before(
    async () => {
      await startCanaryWatcher(env.cp);

      // What `npm install -g` puts on the PATH: the three executables of package.json's "bin".
      home = await mkdtemp(join(tmpdir(), "serin-cli-e2e-"));
      const bin = join(home, "bin");
      await mkdir(bin);
      const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
        bin: Record<string, string>;
      };
      for (const [name, file] of Object.entries(manifest.bin))
        await symlink(join(repoRoot, file), join(bin, name));

      // The on-call engineer's kubeconfig: two contexts on the same cluster, the current one in "shop".
      const admin = parse(await readFile(env.cp.adminKubeconfig, "utf8"));
      const { cluster: clusterName, user } = admin.contexts[0].context;
      admin.contexts = [
        { name: "shop-admin", context: { cluster: clusterName, user, namespace: "shop" } },
        { name: "elsewhere", context: { cluster: clusterName, user, namespace: "elsewhere" } },
      ];
      admin["current-context"] = "shop-admin";
      kubeconfig = join(home, "config");
      await writeFile(kubeconfig, stringify(admin), { mode: 0o600 });
      shell = { PATH: `${bin}:${process.env.PATH}`, HOME: home, KUBECONFIG: kubeconfig };

      journey = new Journey(env.cp, "shop", route);
      await journey.create({ annotations });
      await journey.apply(deploymentManifest({ name: "plain", enabled: false }));
      assert.equal((await env.cp.kubectl(["create", "namespace", "elsewhere"])).code, 0);
      const api = await env.cp.kubectl(["apply", "-n", "elsewhere", "-f", "-"], {
        input: deploymentManifest({ name: "api" }),
      });
      assert.equal(api.code, 0, api.stderr);
    },
    { timeout: 120_000 },
  );

  after(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  test("serin status NAME reads the current context's namespace; -n and --context choose another", async () => {
    const status = await serin("status", "web");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^deployment: shop\/web\nphase: {6}Idle\nweight: {5}0%\n/);

    const elsewhere = await serin("status", "web", "--context", "elsewhere");
    assert.deepEqual(
      [elsewhere.code, elsewhere.stderr, elsewhere.stdout],
      [1, "serin: deployment elsewhere/web not found\n", ""],
    );
    const named = await serin("status", "web", "--context", "elsewhere", "-n", "shop");
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /^deployment: shop\/web$/m);
  });

  test("a Deployment that is not enabled is named, with the label that enables it, and exits 1", async () => {
    for (const command of ["status", "abort", "promote"]) {
      const result = await serin(command, "plain");
      assert.deepEqual(
        [result.code, result.stderr],
        [1, "serin: deployment shop/plain is not enabled for serin: label it serin.dev/canary=enabled\n"],
        command,
      );
    }
    const missing = await kubectlSerin("abort", "nope", "-n", "shop");
    assert.deepEqual([missing.code, missing.stderr], [1, "kubectl serin: deployment shop/nope not found\n"]);
  });

  test("the five actions drive a live canary, through serin and through kubectl serin", async () => {
    await journey.ship(V2, { annotations });
    await journey.waitForPhase("Progressing");
    await journey.waitForCanaryWeight(1_000);
    const live = await kubectlSerin("status", "web");
    assert.equal(live.code, 0, live.stderr);
    assert.match(
      live.stdout,
      /^phase: {6}Progressing\nweight: {5}10% \(step 1 of 2\)\npending: {4}[0-9a-f]{10}\n/m,
    );

    const steps: [(...args: string[]) => Promise<Ran>, string, string][] = [
      [serin, "pause", "Paused"],
      [kubectlSerin, "resume", "Progressing"],
      [kubectlSerin, "abort", "Aborted"],
      [serin, "retry", "Progressing"],
      [serin, "promote", "Succeeded"],
    ];
    for (const [cli, action, phase] of steps) {
      const result = await cli(action, "web");
      assert.deepEqual(
        [result.code, result.stdout, result.stderr],
        [0, `shop/web: serin.dev/action=${action} set; serin acts on it next\n`, ""],
        action,
      );
      await journey.waitForPhase(phase);
      if (action === "abort") assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
    }
    assert.equal(await journey.image(), V2, "promoted");
  });

  test("without a cluster, the error names the server, the kubeconfig and the context", async () => {
    const unreachable = join(home, "unreachable");
    const config = parse(await readFile(kubeconfig, "utf8"));
    config.clusters[0].cluster.server = "https://127.0.0.1:1";
    await writeFile(unreachable, stringify(config));
    const result = await serin("status", "web", "--kubeconfig", unreachable);
    assert.deepEqual(
      [result.code, result.stderr],
      [
        1,
        `serin: cannot reach the cluster at https://127.0.0.1:1 (kubeconfig ${unreachable}, context shop-admin): connect ECONNREFUSED 127.0.0.1:1\n`,
      ],
    );
    const noConfig = await run("serin", ["abort", "web"], { PATH: shell.PATH, HOME: home });
    assert.equal(noConfig.code, 1);
    assert.equal(
      noConfig.stderr,
      `serin: no kubeconfig found: tried ${home}/.kube/config (no such file) and no in-cluster service account; pass --kubeconfig or set KUBECONFIG\n`,
    );
  });

  test("a user without rights reads the apiserver's refusal, with the cluster named", async () => {
    const intern = await env.cp.kubeconfigFor("intern");
    const result = await serin("pause", "web", "-n", "shop", "--kubeconfig", intern);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `serin: the cluster at ${env.cp.server} (kubeconfig ${intern}, context serin-e2e) refused: deployments.apps "web" is forbidden: User "intern" cannot get resource "deployments" in API group "apps" in the namespace "shop"\n`,
    );
  });

  test("a wrong command line exits 2 and says what is wrong", async () => {
    const cases: [string[], RegExp][] = [
      [["status"], /^error: missing required argument 'name'\n\(see 'serin status --help'\)\n$/],
      [["abort", "web", "--namespaec", "shop"], /^error: unknown option '--namespaec'/],
      [
        ["run", "--listen", "8443"],
        /^error: option '--listen <host:port>' argument '8443' is invalid\. --listen "8443" is not HOST:PORT/,
      ],
      [
        ["completion", "fish"],
        /^error: command-argument value 'fish' is invalid for argument 'shell'\. Allowed choices are bash, zsh\./,
      ],
      [["rollback", "web"], /^error: unknown command 'rollback'/],
    ];
    for (const [args, message] of cases) {
      const result = await serin(...args);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, message);
    }
  });

  test("--version and version print serin's version and Node's, also as kubectl serin", async () => {
    const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
      version: string;
    };
    const expected = `serin ${version} (Node ${process.version})\n`;
    for (const result of [
      await serin("--version"),
      await serin("version"),
      await kubectlSerin("--version"),
    ]) {
      assert.deepEqual([result.code, result.stdout], [0, expected]);
    }
  });

  test("every command's help shows its defaults as users write them; the plugin's help says kubectl serin", async () => {
    const top = await serin("--help");
    assert.equal(top.code, 0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+)[| ]/gm)].map((match) => match[1] as string);
    assert.ok(commands.includes("status") && commands.includes("completion"), top.stdout);
    const explained = commands.filter((name) => name !== "help");
    const helps = await Promise.all(explained.map((command) => serin(command, "--help")));
    explained.forEach((command, index) => {
      const help = helps[index] as Ran;
      assert.equal(help.code, 0, command);
      assert.doesNotMatch(help.stdout, /default: [[{"]|default: \d{4,}|default: false/, command);
    });
    assert.ok(explained.includes("demo") && explained.includes("list"), top.stdout);
    const demo = (await serin("demo", "--help")).stdout.replace(/\s+/g, " ");
    assert.ok(demo.includes("how long each step is held (default: 2s)"), demo);
    const run = (await serin("run", "--help")).stdout.replace(/\s+/g, " ");
    for (const shown of ["(default: 0.0.0.0:8443)", "(default: 10s)", "(default: 15s)", "(default: certs)"]) {
      assert.ok(run.includes(shown), shown);
    }
    const plugin = await kubectlSerin("status", "--help");
    assert.equal(plugin.code, 0, plugin.stderr);
    assert.match(plugin.stdout, /^Usage: kubectl serin status \[options\] <name>\n/);
    assert.match(
      plugin.stdout,
      /-n, --namespace <namespace> +namespace \(default: the current context's\s+namespace\)/,
    );
  });

  test("bash completes commands, flags, contexts and the enabled Deployments of the namespace", async () => {
    const complete = async (...words: string[]) => {
      const array = words.map((word) => `'${word}'`).join(" ");
      const result = await bash(
        `source <(serin completion bash); COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _serin_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      );
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.split("\n").filter(Boolean);
    };
    assert.deepEqual(await complete("serin", "st"), ["status"]);
    assert.deepEqual(await complete("serin", "abort", ""), ["web"], "plain is not enabled");
    assert.deepEqual(await complete("serin", "status", "-n", "elsewhere", ""), ["api"]);
    assert.deepEqual(await complete("serin", "promote", "--context", "elsewhere", "a"), ["api"]);
    assert.deepEqual(await complete("serin", "status", "--context", ""), ["shop-admin", "elsewhere"]);
    assert.deepEqual((await complete("serin", "status", "-n", "sh")).sort(), ["shop"]);
    assert.deepEqual(await complete("serin", "pause", "--w"), [], "pause has no --watch");
    assert.deepEqual(await complete("serin", "status", "--w"), ["--watch"]);
  });

  test("zsh reads the completion script, which offers the same names", async () => {
    if (!existsSync("/usr/bin/zsh") && !existsSync("/bin/zsh")) {
      assert.fail("zsh is not installed: scripts/setup.sh installs it");
    }
    const script = await serin("completion", "zsh");
    const syntax = await run("zsh", ["-n", "-c", script.stdout], shell);
    assert.equal(syntax.code, 0, syntax.stderr);
    // compadd and compdef exist only inside zsh's completion system: stand-ins print what is offered.
    const offered = await run(
      "zsh",
      [
        "-c",
        `compdef() { :; }; compadd() { shift; print -l -- "$@"; }
source <(serin completion zsh)
words=(serin abort ''); CURRENT=3; _serin`,
      ],
      shell,
    );
    assert.equal(offered.code, 0, offered.stderr);
    assert.equal(offered.stdout, "web\n");
  });

  test("kubectl's own completion completes kubectl serin through kubectl_complete-serin", async () => {
    const result = await run("kubectl", ["__complete", "serin", "abort", ""], shell);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n").filter(Boolean);
    assert.ok(lines.includes("web"), result.stdout);
    assert.ok(!lines.includes("plain"), result.stdout);
  });
});
