// Certificates for the local control plane: CAs, the apiserver's serving certificate and client
// certificates whose subject is the Kubernetes identity (CN = user, O = groups).
import { generateKeyPair, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { promisify } from "node:util";
import forge from "node-forge";

export interface KeyAndCert {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyAndCert {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** A 2048-bit RSA private key in PKCS#8 PEM, from Node's native (and asynchronous) generator. */
export async function rsaPrivateKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPairAsync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return privateKey;
}

interface Subject {
  commonName: string;
  organizations?: readonly string[];
}

type Usage = { kind: "ca" } | { kind: "server"; names: readonly string[] } | { kind: "client" };

async function issue(
  subject: Subject,
  usage: Usage,
  issuer?: CertificateAuthority,
): Promise<CertificateAuthority> {
  const keyPem = await rsaPrivateKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f; // positive in DER
  cert.serialNumber = serial.toString("hex");
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 7 * 24 * 60 * 60 * 1000);
  cert.setSubject([
    { name: "commonName", value: subject.commonName },
    ...(subject.organizations ?? []).map((value) => ({ name: "organizationName", value })),
  ]);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : cert.subject.attributes);
  const extensions: object[] = [{ name: "subjectKeyIdentifier" }];
  if (issuer) {
    extensions.push({
      name: "authorityKeyIdentifier",
      keyIdentifier: issuer.cert.generateSubjectKeyIdentifier().getBytes(),
    });
  }
  switch (usage.kind) {
    case "ca":
      extensions.push(
        { name: "basicConstraints", cA: true, critical: true },
        { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      );
      break;
    case "server":
      extensions.push(
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: true },
        {
          name: "subjectAltName",
          altNames: usage.names.map((name) =>
            isIP(name) ? { type: 7, ip: name } : { type: 2, value: name },
          ),
        },
      );
      break;
    case "client":
      extensions.push(
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", clientAuth: true },
      );
      break;
  }
  cert.setExtensions(extensions);
  cert.sign(issuer ? issuer.key : key, forge.md.sha256.create());
  return { cert, key, certPem: forge.pki.certificateToPem(cert), keyPem };
}

export function createCertificateAuthority(commonName: string): Promise<CertificateAuthority> {
  return issue({ commonName }, { kind: "ca" });
}

/** A serving certificate for DNS names and IP addresses. */
export async function issueServingCertificate(
  ca: CertificateAuthority,
  names: readonly string[],
): Promise<KeyAndCert> {
  const { certPem, keyPem } = await issue(
    { commonName: names[0] ?? "localhost" },
    { kind: "server", names },
    ca,
  );
  return { certPem, keyPem };
}

/** A client certificate the apiserver reads as user `user` in `groups`. */
export async function issueClientCertificate(
  ca: CertificateAuthority,
  user: string,
  groups: readonly string[] = [],
): Promise<KeyAndCert> {
  const { certPem, keyPem } = await issue(
    { commonName: user, organizations: groups },
    { kind: "client" },
    ca,
  );
  return { certPem, keyPem };
}
