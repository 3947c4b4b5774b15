import { generateKeyPairSync, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";

export interface CertificateSet {
  caCert: string;
  tlsCert: string;
  tlsKey: string;
}

export interface CertificateRequest {
  /** Names the serving certificate is valid for; IP addresses become IP SANs. */
  names: string[];
  validDays?: number;
  now?: Date;
}

/** File names inside a cert dir, as DESIGN.md fixes them. */
export const CERT_FILES = { caCert: "ca.crt", tlsCert: "tls.crt", tlsKey: "tls.key" } as const;

function newKeyPair(): forge.pki.rsa.KeyPair {
  // Node's native generator is ~50x faster than forge's pure JavaScript one.
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.rsa.setPublicKey(key.n, key.e) };
}

function serialNumber(): string {
  // Positive 128-bit serials: the top bit cleared so DER does not read them as negative.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString("hex");
}

function validity(cert: forge.pki.Certificate, now: Date, days: number): void {
  cert.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + days * 24 * 60 * 60 * 1000);
}

/** A fresh CA and a serving certificate it signed, SHA-256, with DNS and IP subject alternative names. */
export function generateCertificates(request: CertificateRequest): CertificateSet {
  if (request.names.length === 0) throw new Error("at least one DNS name or IP address is needed");
  const now = request.now ?? new Date();
  const days = request.validDays ?? 3650;

  const caKeys = newKeyPair();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serialNumber();
  validity(ca, now, days);
  const caSubject = [{ name: "commonName", value: "serin-webhook-ca" }];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const servingKeys = newKeyPair();
  const serving = forge.pki.createCertificate();
  serving.publicKey = servingKeys.publicKey;
  serving.serialNumber = serialNumber();
  validity(serving, now, days);
  serving.setSubject([{ name: "commonName", value: request.names[0] as string }]);
  serving.setIssuer(caSubject);
  serving.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "authorityKeyIdentifier", keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
    {
      name: "subjectAltName",
      altNames: request.names.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })),
    },
  ]);
  serving.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    caCert: forge.pki.certificateToPem(ca),
    tlsCert: forge.pki.certificateToPem(serving),
    tlsKey: forge.pki.privateKeyToPem(servingKeys.privateKey),
  };
}
