import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { promisify } from "node:util";
import { PROMETHEUS_BINARY, serinCli } from "../harness/index.js";

const run = promisify(execFile);

test("serin demo tells the whole story: v2 promoted step by step, v3 aborted by its owner, v4 by its metrics", {
  timeout: 240_000,
}, async () => {
  assert.ok(existsSync(PROMETHEUS_BINARY), `${PROMETHEUS_BINARY} is missing: scripts/setup.sh installs it`);
  const { stdout } = await run(process.execPath, [serinCli, "demo", "--step-interval", "1s"], {
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.match(
    stdout,
    /Warning: serin: revision [0-9a-f]{10} held back for a canary: steps 0\.1%, 10%, 50%, 1s each/,
  );
  // The live view of `serin status web --watch`, as plain lines (the demo's output is not a terminal).
  assert.match(stdout, /\$ serin status web --watch\n/);
  for (const weights of [
    "web-stable 99.9% (9990) · web-canary 0.1% (10)",
    "web-stable 50% (5000) · web-canary 50% (5000)",
    "web-stable 0% (0) · web-canary 100% (10000)",
  ]) {
    assert.ok(stdout.includes(`TrafficSplit web: ${weights}`), `the demo shows ${weights}`);
  }
  assert.match(stdout, /default\/web: Succeeded \| .*Revision [0-9a-f]{10} promoted/);
  assert.match(stdout, /to act: serin abort web -n default/);
  assert.match(
    stdout,
    /default\/web: Aborted \| .*Aborted revision [0-9a-f]{10}: aborted by the user at [\d.]+%/,
  );

  // v4: no one acts; its checks pass at 10%, then fail once its error rate rises, and it is rolled back.
  const v4 = stdout.slice(stdout.indexOf("v4 ships with a metric check"));
  assert.ok(v4.length < stdout.length, "the demo has the analysis part");
  assert.match(v4, /default\/web: Progressing \| weight 10% \(step 1 of 2\) .*\| last check pass at/);
  assert.match(
    v4,
    /event AnalysisFailed: Check failed at [\d.]+% \(1 of 1 tolerated\): success-rate \d+(\.\d+)?%, wanted success-rate>=99 \(\d+ of \d+ requests failed in [\d.]+s\)\./,
  );
  assert.match(
    v4,
    /default\/web: Aborted \| .*TrafficSplit web: web-stable 100% \(10000\) · web-canary 0% \(0\) .*Aborted revision [0-9a-f]{10}: checks failed at [\d.]+%: success-rate \d+(\.\d+)?%, wanted success-rate>=99 \(\d+ of \d+ requests failed in [\d.]+s\)\./,
  );
  assert.doesNotMatch(
    v4.slice(0, v4.indexOf("What `kubectl describe")),
    /\$ serin (abort|pause|promote)/,
    "nobody acted",
  );

  const images = [...stdout.matchAll(/^\s+web\s+(\S+)$/gm)].map((match) => match[1]);
  assert.deepEqual(
    images,
    ["registry.example/web:2.0.0", "registry.example/web:2.0.0", "registry.example/web:2.0.0"],
    "v2 promoted, then kept when v3 and v4 are rolled back",
  );
  assert.match(stdout, /Aborted\s+Aborted revision [0-9a-f]{10}: checks failed/);
  assert.match(stdout, /v4 by its metrics alone/);
});
