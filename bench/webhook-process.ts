import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { admissionRequest, deployment, review } from "../src/admission/review-fixtures.js";

/**
 * What the webhook benchmarks share: a realistic AdmissionReview, and servers started as their own
 * processes with their logs in a file.
 */

/** An UPDATE of a Deployment with 24 environment variables whose image changed: serin holds it back. */
export function realisticReview(): string {
  const env = Array.from({ length: 24 }, (_, index) => ({
    name: `SETTING_${index}`,
    value: `value-${index}-${"x".repeat(40)}`,
  }));
  const withEnv = (image: string) => {
    const object = deployment({
      image,
      annotations: { "serin.dev/steps": "1,5,25,50", "serin.dev/analysis": "success-rate>=99" },
    });
    const container = object.spec?.template.spec?.containers[0];
    if (container) container.env = env;
    return object;
  };
  return JSON.stringify(
    review(
      admissionRequest(
        "UPDATE",
        withEnv("registry.example/web:2.0.0"),
        withEnv("registry.example/web:1.0.0"),
      ),
    ),
  );
}

/**
 * Starts a server whose stdout goes to a file, as a container's does, so that the load generator in
 * this process never spends time reading its logs; the port comes from its first log line.
 */
export async function startLogged(
  args: string[],
  logFile: string,
): Promise<{ child: ChildProcess; port: number }> {
  const out = openSync(logFile, "w");
  const child = spawn(process.execPath, args, { stdio: ["ignore", out, "inherit"] });
  closeSync(out);
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  for (;;) {
    if (exited !== undefined) throw new Error(`${args.join(" ")} exited with ${exited}`);
    const lines = readFileSync(logFile, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("{"));
    const port = lines
      .map((line) => (JSON.parse(line) as { port?: unknown }).port)
      .find((value) => typeof value === "number");
    if (typeof port === "number") return { child, port };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
