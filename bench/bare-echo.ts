import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/**
 * The baselines of the webhook benchmark, with the same certificate and TLS settings as `serin webhook`:
 * `echo` reads the body and answers a fixed JSON document (the floor DESIGN.md names); `parse` also
 * JSON-parses the review and answers with its uid, the least any webhook must do.
 */
const certDir = process.argv[2] ?? "certs";
const mode = process.argv[3] === "parse" ? "parse" : "echo";
const fixed = JSON.stringify({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  response: { uid: "00000000-0000-0000-0000-000000000000", allowed: true },
});
const server = createServer(
  {
    cert: readFileSync(join(certDir, "tls.crt")),
    key: readFileSync(join(certDir, "tls.key")),
    minVersion: "TLSv1.2",
  },
  (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => mode === "parse" && chunks.push(chunk));
    req.on("end", () => {
      let body = fixed;
      if (mode === "parse") {
        const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          apiVersion: string;
          request: { uid: string };
        };
        body = JSON.stringify({
          apiVersion: review.apiVersion,
          kind: "AdmissionReview",
          response: { uid: review.request.uid, allowed: true },
        });
      }
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  },
);
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(
    `${JSON.stringify({ msg: "listening", port: (server.address() as AddressInfo).port })}\n`,
  );
});
