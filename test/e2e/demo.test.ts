import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { serinCli } from "../harness/index.js";

const run = promisify(execFile);

test("serin demo tells the whole story: v2 promoted step by step, v3 aborted back to v2", {
  timeout: 180_000,
}, async () => {
  const { stdout } = await run(process.execPath, [serinCli, "demo", "--step-interval", "1s"], {
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.match(
    stdout,
    /Warning: serin: revision [0-9a-f]{10} held back for a canary: steps 0\.1%, 10%, 50%, 1s each/,
  );
  for (const weights of [
    "web-stable 9990, web-canary 10",
    "web-stable 5000, web-canary 5000",
    "web-stable 0, web-canary 10000",
  ]) {
    assert.ok(stdout.includes(weights), `the demo shows ${weights}`);
  }
  assert.match(stdout, /phase:\s+Succeeded/);
  assert.match(
    stdout,
    /phase:\s+Aborted[\s\S]*message:\s+Aborted revision [0-9a-f]{10}: aborted by the user at [\d.]+%/,
  );
  const images = [...stdout.matchAll(/^\s+web\s+(\S+)$/gm)].map((match) => match[1]);
  assert.deepEqual(
    images,
    ["registry.example/web:2.0.0", "registry.example/web:2.0.0"],
    "v2 promoted, then kept when v3 aborts",
  );
  assert.match(stdout, /Aborted\s+Aborted revision/);
});
