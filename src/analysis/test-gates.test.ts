import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { allowlistPolicy } from "../contract/test-urls.js";
import { refusedAddressKind, runTestGates, type TestGatePayload } from "./test-gates.js";

const payload: TestGatePayload = {
  deployment: "web",
  namespace: "shop",
  revision: "1a2b3c4d5e",
  step: 1,
  weight: 10,
  canaryService: "web-canary",
};

/** A gate on this machine that records what reaches it and answers as `answer` says. */
async function gateServer(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const calls: { path: string; host: string; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      calls.push({
        path: req.url ?? "",
        host: req.headers.host ?? "",
        body: Buffer.concat(chunks).toString(),
      });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, calls, port: (server.address() as AddressInfo).port };
}

describe("test gates", () => {
  let metadata: Awaited<ReturnType<typeof gateServer>>;
  before(async () => {
    metadata = await gateServer((_req, res) => res.writeHead(200).end("secret-credentials"));
  });
  after(() => metadata.server.close());

  test("a 307 to another address fails the gate, names status and Location, and the target gets nothing", async () => {
    const target = `http://127.0.0.1:${metadata.port}/latest/meta-data/iam`;
    const gate = await gateServer((_req, res) => res.writeHead(307, { location: target }).end());
    try {
      metadata.calls.length = 0;
      const verdict = await runTestGates(
        [`http://127.0.0.1:${gate.port}/gate`],
        payload,
        allowlistPolicy(["127.0.0.1"]),
      );
      assert.equal(verdict.result, "fail");
      assert.match(
        verdict.result === "fail" ? verdict.reason : "",
        new RegExp(
          `answered 307 with Location ${target.replace(/[./]/g, "\\$&")}; redirects are not followed`,
        ),
      );
      assert.equal(gate.calls.length, 1);
      assert.deepEqual(metadata.calls, [], "the redirect target received nothing");
    } finally {
      gate.server.close();
    }
  });

  test("a gate is called with the documented POST body and passes on 2xx", async () => {
    const gate = await gateServer((_req, res) => res.writeHead(204).end());
    try {
      const verdict = await runTestGates(
        [`http://127.0.0.1:${gate.port}/smoke`],
        payload,
        allowlistPolicy(["127.0.0.1"]),
      );
      assert.deepEqual(verdict, { result: "pass" });
      assert.deepEqual(JSON.parse(gate.calls[0]?.body ?? ""), payload);
    } finally {
      gate.server.close();
    }
  });

  test("a name that resolves to loopback, link-local or metadata is refused before connecting", async () => {
    for (const [address, kind] of [
      ["127.0.0.1", "loopback"],
      ["::1", "loopback"],
      ["::ffff:127.0.0.1", "loopback"],
      ["169.254.169.254", "cloud metadata"],
      ["fd00:ec2::254", "cloud metadata"],
      ["169.254.10.1", "link-local"],
      ["fe80::1", "link-local"],
      ["0.0.0.0", "unspecified"],
      ["::", "unspecified"],
    ] as const) {
      metadata.calls.length = 0;
      const verdict = await runTestGates(
        [`http://gate.ci.example:${metadata.port}/run`],
        payload,
        allowlistPolicy(["*.ci.example"]),
        { resolve: async () => [{ address, family: address.includes(":") ? 6 : 4 }] },
      );
      assert.equal(verdict.result, "fail", address);
      assert.match(
        verdict.result === "fail" ? verdict.reason : "",
        new RegExp(`gate\\.ci\\.example resolves to ${address.replace(/[.]/g, "\\.")}, a ${kind} address`),
      );
      assert.deepEqual(metadata.calls, [], address);
    }
  });

  test("the connection goes to the address that was checked: no second lookup", async () => {
    const gate = await gateServer((_req, res) => res.writeHead(200).end());
    const looked: string[] = [];
    try {
      // gate.test exists in no DNS: the call reaches the gate only through the checked lookup.
      const verdict = await runTestGates(
        [`http://gate.test:${gate.port}/run`],
        payload,
        allowlistPolicy(["gate.test"]),
        {
          resolve: async (hostname) => {
            looked.push(hostname);
            return [{ address: "127.0.0.1", family: 4 }];
          },
        },
      );
      assert.deepEqual(verdict, { result: "pass" });
      assert.deepEqual(looked, ["gate.test"]);
      assert.equal(gate.calls[0]?.host, `gate.test:${gate.port}`);
    } finally {
      gate.server.close();
    }
  });

  test("a bare Service name is called as NAME.NAMESPACE.svc, never as the bare name", async () => {
    const looked: string[] = [];
    const verdict = await runTestGates(
      ["http://metadata/computeMetadata/v1/"],
      payload,
      allowlistPolicy([]),
      {
        resolve: async (hostname) => {
          looked.push(hostname);
          throw new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        },
      },
    );
    assert.deepEqual(looked, ["metadata.shop.svc"]);
    assert.match(
      verdict.result === "fail" ? verdict.reason : "",
      /http:\/\/metadata\.shop\.svc\/computeMetadata/,
    );
  });

  test("a URL admitted before is checked again with the Deployment's namespace", async () => {
    const verdict = await runTestGates(
      ["http://smoke.other.svc/run", "http://localhost:4191/"],
      payload,
      allowlistPolicy([]),
      { resolve: async () => assert.fail("no lookup for a refused URL") },
    );
    const reason = verdict.result === "fail" ? verdict.reason : "";
    assert.match(
      reason,
      /smoke\.other\.svc\/run has a host that is not a Service of the Deployment's own namespace/,
    );
    assert.match(reason, /localhost:4191\/ has localhost for a host/);
  });

  test("a gate that never answers fails after the timeout", async () => {
    const gate = await gateServer(() => {});
    try {
      const started = Date.now();
      const verdict = await runTestGates(
        [`http://127.0.0.1:${gate.port}/slow`],
        payload,
        allowlistPolicy(["127.0.0.1"]),
        {
          timeoutMs: 300,
        },
      );
      assert.match(verdict.result === "fail" ? verdict.reason : "", /\/slow did not answer within 0\.3s/);
      assert.ok(Date.now() - started < 5_000);
    } finally {
      gate.server.closeAllConnections();
      gate.server.close();
    }
  });

  test("an answer that arrived in time while serin's event loop was busy is read, not timed out", async () => {
    // The gate runs in its own process, so that it answers (after 100 ms) while this one is stalled.
    const gate = spawn(
      process.execPath,
      [
        "-e",
        `require("node:http").createServer((req, res) => { process.stdout.write("called\\n");
           setTimeout(() => res.end("ok"), 100); }).listen(0, "127.0.0.1", function () {
           process.stdout.write(this.address().port + "\\n"); });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const lines = createInterface({ input: gate.stdout as NonNullable<typeof gate.stdout> })[
        Symbol.asyncIterator
      ]();
      const port = Number((await lines.next()).value);
      const verdict = runTestGates(
        [`http://127.0.0.1:${port}/run`],
        payload,
        allowlistPolicy(["127.0.0.1"]),
        {
          timeoutMs: 300,
        },
      );
      await lines.next(); // the gate has the request
      const stalledUntil = Date.now() + 800; // past the timeout, the answer long arrived
      while (Date.now() < stalledUntil) {}
      assert.deepEqual(await verdict, { result: "pass" });
    } finally {
      gate.kill();
    }
  });

  test("an endless answer is read only up to 64 KiB, then the gate is judged on its status", async () => {
    let written = 0;
    const gate = await gateServer((_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, "x");
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    });
    try {
      const verdict = await runTestGates(
        [`http://127.0.0.1:${gate.port}/big`],
        payload,
        allowlistPolicy(["127.0.0.1"]),
        {
          timeoutMs: 5_000,
        },
      );
      assert.deepEqual(verdict, { result: "pass" });
      assert.ok(written < 16 * 1024 * 1024, `the gate wrote ${written} bytes before the connection closed`);
    } finally {
      gate.server.closeAllConnections();
      gate.server.close();
    }
  });

  test("a listed address may be loopback, but metadata never, whatever the allowlist says", async () => {
    assert.equal(refusedAddressKind("127.0.0.1"), "loopback");
    assert.equal(refusedAddressKind("10.96.0.10"), undefined);
    const verdict = await runTestGates(
      ["http://169.254.169.254/latest/"],
      payload,
      allowlistPolicy(["169.254.169.254"]),
    );
    assert.match(verdict.result === "fail" ? verdict.reason : "", /is a cloud metadata address/);
  });
});
