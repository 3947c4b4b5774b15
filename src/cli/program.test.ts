import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "commander";
import { canaryCommands } from "./canary-commands.js";
import { certsCommand } from "./certs.js";
import { completionCommand } from "./completion.js";
import { controllerCommands } from "./controller.js";
import { buildProgram, versionText } from "./program.js";

// The commands whose flags src/cli declares here (demo's are the demo's own).
const commands: Command[] = [
  ...controllerCommands(),
  certsCommand(),
  ...canaryCommands({}),
  completionCommand(),
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
    "(default: 1m)",
    "(default: 15s)",
    "(default: http://prometheus.linkerd-viz.svc:9090)",
    "(default: auto)",
    "(default: info)",
  ]) {
    assert.ok(help.includes(shown), shown);
  }
  assert.doesNotMatch(help, /default: [[{"]|default: \d{4,}|default: false/);
});

test("the version names serin's and Node's", () => {
  assert.match(versionText(), /^serin \d+\.\d+\.\d+\S* \(Node v\d+\.\d+\.\d+\)$/);
});

test("the kubectl plugin's help calls it kubectl serin", () => {
  const status = buildProgram("kubectl serin", {}).commands.find((command) => command.name() === "status");
  assert.match(status?.helpInformation() ?? "", /^Usage: kubectl serin status \[options\] <name>/);
});
