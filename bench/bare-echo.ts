import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/**
 * The baseline of the webhook benchmark: a bare Node HTTPS server that reads the body and answers a
 * fixed JSON document, with the same certificate and TLS settings as `serin webhook`.
 */
const certDir = process.argv[2] ?? "certs";
const body = JSON.stringify({
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
    req.resume();
    req.on("end", () => {
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
