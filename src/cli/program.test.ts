import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "commander";
import { canaryCommands } from "./canary-commands.js";
import { certsCommand } from "./certs.js";
import { completionCommand } from "./completion.js";
import { controllerCommands } from "./controller.js";
import { demoCommand } from "./demo.js";
import { buildProgram, versionText } from "./program.js";

const commands: Command[] = [
  ...controllerCommands(),
  certsCommand(),
  ...canaryCommands({}),
  completionCommand(),
  demoCommand(),
];

test("every default in help is written as a user types it, and means the value the flag defaults to", () => {
  for (const command of commands) {
    for (const option of command.options) {
      if (option.defaultValue === undefined) continue;
      const shown = option.defaultValueDescription;
      assert.ok(shown, `${command.name()} ${option.long} shows its default in words`);
      if (Array.isArray(option.defaultValue)) continue; // repeatable: "none", or what an empty list means
      const parsed = option.parseArg ? option.parseArg(shown, undefined) : shown;
      assert.deepEqual(parsed, option.defaultValue, `${command.name()} ${option.long} (default: ${shown})`);
    }
  }
});

test("help prints defaults as they are written: addresses, durations, URLs", () => {
  const run = buildProgram("serin", {}).commands.find((command) => command.name() === "run");
  const help = run?.helpInformation().replace(/\s+/g, " ") ?? "";
  for (const shown of [
    "(default: 0.0.0.0:8443)",
    "(default: 10s)",
    "(default: 15s)",
    "(default: http://prometheus.linkerd-viz.svc:9090)",
    "(default: auto)",
    "(default: info)",
  ]) {
    assert.ok(help.includes(shown), shown);
  }
  assert.doesNotMatch(help, /default: [[{"]|default: \d{4,}|default: false/);
});

test("the demo's help shows its step interval as written and no default for a switch", () => {
  const help = demoCommand().helpInformation().replace(/\s+/g, " ");
  assert.ok(help.includes("how long each step is held (default: 2s)"), help);
  assert.doesNotMatch(help, /default: [[{"]|default: \d{4,}|default: false/);
});

test("status --timeout takes a duration from 1s to 24h and says so otherwise", async () => {
  for (const bad of ["500ms", "25h", "soon"]) {
    const program = buildProgram("serin", {});
    for (const command of [program, ...program.commands])
      command.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    await assert.rejects(program.parseAsync(["node", "serin", "status", "web", "-w", "--timeout", bad]), {
      message: new RegExp(`--timeout "${bad}" is not a duration from 1s to 24h`),
    });
  }
});

test("the version names serin's and Node's", () => {
  assert.match(versionText(), /^serin \d+\.\d+\.\d+\S* \(Node v\d+\.\d+\.\d+\)$/);
});

test("the kubectl plugin's help calls it kubectl serin", () => {
  const status = buildProgram("kubectl serin", {}).commands.find((command) => command.name() === "status");
  assert.match(status?.helpInformation() ?? "", /^Usage: kubectl serin status \[options\] <name>/);
});
