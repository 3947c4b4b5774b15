#!/usr/bin/env node
import { Command } from "commander";
import { canaryCommands } from "./canary-commands.js";
import { certsCommand } from "./certs.js";
import { controllerCommands } from "./controller.js";
import { demoCommand } from "./demo.js";

const program = new Command("serin")
  .description("Progressive canary delivery for plain Kubernetes Deployments")
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

for (const command of controllerCommands()) program.addCommand(command);
program.addCommand(certsCommand());
for (const command of canaryCommands()) program.addCommand(command);
program.addCommand(demoCommand());

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`serin: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
