#!/usr/bin/env node
// Runs the compiled tests with Node's own runner: unit tests (beside the code) first, then the
// end-to-end suites, each of which starts its own control plane. Arguments narrow the run:
// "unit", "e2e", or substrings of test file paths.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

function testFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".test.js"))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

const args = process.argv.slice(2);
const suites = { unit: testFiles("dist/src"), e2e: testFiles("dist/test") };
let files = [...suites.unit, ...suites.e2e];
if (args.length === 1 && args[0] in suites) files = suites[args[0]];
else if (args.length > 0) files = files.filter((file) => args.some((arg) => file.includes(arg)));
if (files.length === 0) {
  console.error(`run-tests: no test file matches ${args.join(" ")}`);
  process.exit(1);
}
console.log(`run-tests: ${files.length} files: ${files.map((file) => relative("dist", file)).join(" ")}`);
const result = spawnSync(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-concurrency=2", "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
