#!/usr/bin/env node
// The kubectl plugin: kubectl runs `kubectl-serin` from the PATH for `kubectl serin ...`.
import { runCli } from "./program.js";

process.exitCode = await runCli("kubectl serin", process.argv, process.env);
