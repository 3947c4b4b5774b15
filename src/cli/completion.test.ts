import assert from "node:assert/strict";
import { test } from "node:test";
import { type CompletionPlan, formatCompletion, planCompletion } from "./completion.js";
import { buildProgram } from "./program.js";

const program = buildProgram("serin", {});
const plan = (...words: string[]) => planCompletion(program, words);
const offered = (...words: string[]) => {
  const { hint } = plan(...words);
  return hint.kind === "words" ? [...hint.words] : hint.kind;
};

test("the first word completes to the commands, help and version included; __complete stays hidden", () => {
  const commands = offered("");
  for (const name of [
    "run",
    "status",
    "promote",
    "abort",
    "pause",
    "resume",
    "retry",
    "completion",
    "version",
    "help",
  ]) {
    assert.ok(commands.includes(name), name);
  }
  assert.ok(!commands.includes("__complete"));
  assert.deepEqual(formatCompletion(plan("st"), commands as string[], 4), "status\n:4\n");
});

test("a Deployment's name is completed after status and the five actions, with -n and --context as typed", () => {
  for (const action of ["status", "promote", "abort", "pause", "resume", "retry"]) {
    assert.equal(offered(action, ""), "deployments", action);
  }
  const withFlags = plan("abort", "-n", "shop", "--context=prod", "--kubeconfig", "/k", "w");
  assert.equal(withFlags.hint.kind, "deployments");
  assert.deepEqual(withFlags.cluster, { namespace: "shop", context: "prod", kubeconfig: "/k" });
  assert.equal(withFlags.current, "w");
  assert.deepEqual(plan("status", "-nshop", "").cluster, { namespace: "shop" });
  assert.equal(offered("status", "web", ""), "none", "one name only");
});

test("flags complete to the command's own flags", () => {
  const flags = offered("status", "--");
  assert.deepEqual(
    (flags as string[]).filter((name) => name.startsWith("--")),
    ["--namespace", "--context", "--kubeconfig", "--watch", "--timeout", "--help"],
  );
  assert.ok((offered("run", "-") as string[]).includes("--listen"));
  assert.ok((offered("-") as string[]).includes("--version"));
  assert.deepEqual(offered("list", "-o", ""), ["wide", "json", "yaml"]);
  assert.ok((offered("list", "--") as string[]).includes("--all-namespaces"));
});

test("flag values complete to what the flag takes", () => {
  assert.equal(offered("status", "-n", ""), "namespaces");
  assert.equal(offered("abort", "web", "--context", ""), "contexts");
  assert.equal(offered("status", "--kubeconfig", ""), "files");
  assert.equal(offered("run", "--cert-dir", ""), "directories");
  assert.deepEqual(offered("run", "--log-level", ""), [
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "fatal",
    "silent",
  ]);
  assert.ok((offered("watch", "--router", "") as string[]).includes("smi/v1alpha4"));
  assert.deepEqual(offered("completion", ""), ["bash", "zsh"]);
  assert.equal(offered("run", "--listen", ""), "none");
});

test("--flag=value completes the value and keeps the flag in front", () => {
  const inline: CompletionPlan = plan("status", "--namespace=sh");
  assert.equal(inline.hint.kind, "namespaces");
  assert.equal(
    formatCompletion(inline, ["default", "shop", "shipping"], 4),
    "--namespace=shop\n--namespace=shipping\n:4\n",
  );
});

test("help completes to the commands it can explain", () => {
  assert.deepEqual(formatCompletion(plan("help", "ab"), offered("help", "ab") as string[], 4), "abort\n:4\n");
});
