#!/usr/bin/env node
import { runCli } from "./program.js";

process.exitCode = await runCli("serin", process.argv, process.env);
