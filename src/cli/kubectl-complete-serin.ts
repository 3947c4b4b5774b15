#!/usr/bin/env node
// kubectl's completion of `kubectl serin ...` runs `kubectl_complete-serin WORD...` from the PATH and reads
// cobra's answer, which is what `serin __complete WORD...` prints.
import { runCli } from "./program.js";

const [node = "node", script = "kubectl_complete-serin", ...words] = process.argv;
process.exitCode = await runCli("kubectl serin", [node, script, "__complete", ...words], process.env);
