import { resolve } from "node:path";
import { Command } from "commander";
import { writeCertificates } from "../tls/cert-dir.js";
import { generateCertificates } from "../tls/certs.js";
import { collect } from "./options.js";

export function certsCommand(): Command {
  return new Command("certs")
    .description("write a CA (ca.crt) and a serving certificate it signed (tls.crt, tls.key)")
    .requiredOption("--out <dir>", "folder to write ca.crt, tls.crt and tls.key into")
    .requiredOption("--dns <name>", "DNS name or IP address the certificate is for (repeatable)", collect)
    .option("--days <n>", "validity in days", (text) => {
      const days = Number(text);
      if (!Number.isInteger(days) || days < 1)
        throw new Error(`--days "${text}" is not a whole number of days ≥ 1`);
      return days;
    })
    .action(async (options: { out: string; dns: string[]; days?: number }) => {
      const set = generateCertificates({
        names: options.dns,
        ...(options.days ? { validDays: options.days } : {}),
      });
      await writeCertificates(options.out, set);
      process.stdout.write(`wrote ca.crt, tls.crt, tls.key to ${resolve(options.out)}\n`);
    });
}
