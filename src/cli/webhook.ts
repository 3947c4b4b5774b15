import { Command } from "commander";
import { collectDefaultMetrics, Registry } from "prom-client";
import { startWebhookServer } from "../admission/server.js";
import { defaultCertNames, type HostPort, type LogLevel, parseHostPort, parseLogLevel } from "../config.js";
import { allowlistPolicy } from "../contract/test-urls.js";
import { createLogger } from "../log.js";
import { collect, flag } from "./options.js";

interface WebhookFlags {
  listen: HostPort;
  certDir: string;
  certDns: string[];
  testHost: string[];
  logLevel: LogLevel;
}

export function webhookCommand(): Command {
  return new Command("webhook")
    .description("serve the mutating admission webhook alone (POST /mutate, /healthz, /readyz, /metrics)")
    .option(
      "--listen <host:port>",
      "address to serve HTTPS on",
      flag(parseHostPort, "--listen"),
      parseHostPort("0.0.0.0:8443", "--listen"),
    )
    .option(
      "--cert-dir <dir>",
      "folder with tls.crt and tls.key; a CA and certificate are generated when empty",
      "certs",
    )
    .option("--cert-dns <name>", "extra DNS name for a generated certificate (repeatable)", collect, [])
    .option(
      "--test-host <pattern>",
      'host allowed for test gates ("*.example", "*"); default cluster-local only',
      collect,
      [],
    )
    .option(
      "--log-level <level>",
      "trace, debug, info, warn, error",
      flag(parseLogLevel, "--log-level"),
      "info" as LogLevel,
    )
    .action(async (options: WebhookFlags) => {
      const logger = createLogger(options.logLevel);
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      const server = await startWebhookServer({
        listen: options.listen,
        certDir: options.certDir,
        certNames: defaultCertNames(options.listen, options.certDns),
        logger,
        registry,
        mutate: { spec: { testUrlPolicy: allowlistPolicy(options.testHost) } },
      });
      const stop = () => {
        logger.info("shutting down");
        void server.close().then(() => process.exit(0));
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
}
