#!/usr/bin/env node
import { Command } from "commander";
import { certsCommand } from "./certs.js";
import { webhookCommand } from "./webhook.js";

const program = new Command("serin")
  .description("Progressive canary delivery for plain Kubernetes Deployments")
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

program.addCommand(webhookCommand());
program.addCommand(certsCommand());

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`serin: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
