import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, type TLSSocket } from "node:tls";
import { pino } from "pino";
import { Registry } from "prom-client";
import { admissionRequest, deployment, review } from "./review-fixtures.js";
import { type RunningServer, startWebhookServer } from "./server.js";

/** A TLS connection to the webhook, and when the server closed it (undefined while open). */
function open(port: number, ca: string) {
  const socket = connect({ host: "127.0.0.1", port, ca, servername: "localhost" });
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
  socket.on("error", () => undefined);
  // Read whatever comes, so that the server's close reaches us.
  socket.resume();
  const ready = new Promise<boolean>((resolve) => {
    socket.once("secureConnect", () => resolve(true));
    socket.once("close", () => resolve(false));
  });
  return { socket, closed, ready };
}

describe("the webhook's HTTPS server", () => {
  let dir: string;
  let server: RunningServer;
  let ca: string;
  const sockets: TLSSocket[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "serin-server-"));
    server = await startWebhookServer({
      listen: { host: "127.0.0.1", port: 0 },
      certDir: dir,
      certNames: ["localhost", "127.0.0.1"],
      logger: pino({ level: "silent" }),
      registry: new Registry(),
      mutate: {},
      limits: { maxConnections: 3, bodyTimeoutMs: 1_000 },
    });
    ca = await readFile(join(dir, "ca.crt"), "utf8");
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("connections past the cap are closed as they arrive; a freed slot takes a new one", async () => {
    const held = [open(server.port, ca), open(server.port, ca), open(server.port, ca)];
    sockets.push(...held.map((connection) => connection.socket));
    assert.deepEqual(await Promise.all(held.map((connection) => connection.ready)), [true, true, true]);
    const extra = open(server.port, ca);
    sockets.push(extra.socket);
    assert.equal(await extra.ready, false, "the fourth connection is refused");
    held[0]?.socket.destroy();
    await held[0]?.closed;
    assert.equal(await openOnceFree(), true);
    for (const connection of held) connection.socket.destroy();
  });

  /** The server counts a close a moment after the client sees it: a few tries. */
  async function openOnceFree(): Promise<boolean> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const next = open(server.port, ca);
      sockets.push(next.socket);
      if (await next.ready) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  test("a client that never finishes its request headers is cut off", async () => {
    for (const socket of sockets) socket.destroy();
    assert.equal(await openOnceFree(), true);
    const slow = open(server.port, ca);
    sockets.push(slow.socket);
    assert.equal(await slow.ready, true);
    const started = Date.now();
    slow.socket.write("POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: appl");
    const closedAt = await slow.closed;
    assert.ok(closedAt - started < 5_000, `closed after ${closedAt - started} ms`);
  });
});

test("a keep-alive connection ends after requestsPerConnection answers, the last saying so; the next review opens a new one", async () => {
  const dir = await mkdtemp(join(tmpdir(), "serin-server-"));
  const server = await startWebhookServer({
    listen: { host: "127.0.0.1", port: 0 },
    certDir: dir,
    certNames: ["localhost", "127.0.0.1"],
    logger: pino({ level: "silent" }),
    registry: new Registry(),
    mutate: {},
    limits: { requestsPerConnection: 3 },
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const ca = await readFile(join(dir, "ca.crt"), "utf8");
    const get = () =>
      new Promise<{ reused: boolean; connection: string | undefined }>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: server.port, path: "/healthz", ca, servername: "localhost", agent },
          (res) => {
            res.resume();
            res.once("end", () => resolve({ reused: req.reusedSocket, connection: res.headers.connection }));
          },
        );
        req.once("error", reject);
        req.end();
      });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await get());
    assert.deepEqual(
      answers.map((answer) => answer.reused),
      [false, true, true, false],
    );
    assert.equal(answers[2]?.connection, "close");
  } finally {
    agent.destroy();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

describe("the webhook's HTTPS server shutting down", () => {
  test("a review in flight is answered, then the connection closes; new connections are refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "serin-server-"));
    const server = await startWebhookServer({
      listen: { host: "127.0.0.1", port: 0 },
      certDir: dir,
      certNames: ["localhost", "127.0.0.1"],
      logger: pino({ level: "silent" }),
      registry: new Registry(),
      mutate: {},
    });
    try {
      const ca = await readFile(join(dir, "ca.crt"), "utf8");
      // A kept-alive connection that has been answered and now idles, as kube-apiserver keeps them:
      // it must not hold the shutdown up.
      const idle = open(server.port, ca);
      assert.equal(await idle.ready, true);
      const answered = new Promise((resolve) => idle.socket.once("data", resolve));
      idle.socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
      await answered;
      const held = open(server.port, ca);
      assert.equal(await held.ready, true);
      const body = JSON.stringify(
        review(admissionRequest("CREATE", deployment(), undefined, { uid: "in-flight" })),
      );
      const half = Math.floor(body.length / 2);
      let answer = "";
      held.socket.on("data", (chunk: Buffer) => {
        answer += chunk.toString("utf8");
      });
      held.socket.write(
        `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));

      const closing = server.close(5_000);
      const refused = await new Promise<string>((resolve) => {
        const late = connect({ host: "127.0.0.1", port: server.port, ca, servername: "localhost" });
        late.once("secureConnect", () => resolve("connected"));
        late.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
      assert.equal(refused, "ECONNREFUSED", "no new connection once shutting down");
      await idle.closed;

      held.socket.write(body.slice(half));
      await held.closed;
      assert.match(answer, /^HTTP\/1\.1 200 /);
      assert.match(answer, /connection: close/i, "the answer says the connection ends");
      assert.match(answer, /"uid":"in-flight"/);
      const started = Date.now();
      await closing;
      assert.ok(Date.now() - started < 1_000, "closed once the review was answered, not at the grace period");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
