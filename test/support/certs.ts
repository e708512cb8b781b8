/** Certificates for TLS tests, made by the openssl command-line tool in a temporary directory. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

export interface Pem {
  cert: string;
  key: string;
  /** File paths of the above. */
  certFile: string;
  keyFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function pem(dir: string, name: string): Pem {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}

/** A self-signed server certificate for 127.0.0.1 and localhost, with `cn` as its subject's common name. */
export function selfSigned(dir: string, name: string, cn = name): Pem {
  openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
      "-subj", `/CN=${cn}`, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout", `${name}.key`, "-out", `${name}.crt`],
    dir,
  );
  return pem(dir, name);
}

/** A certificate authority (self-signed, may sign). */
export function authority(dir: string, name: string): Pem {
  openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
      "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
      "-keyout", `${name}.key`, "-out", `${name}.crt`],
    dir,
  );
  return pem(dir, name);
}

/** A client certificate signed by `ca`. */
export function clientCert(dir: string, name: string, ca: Pem): Pem {
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${name}`,
    "-keyout", `${name}.key`, "-out", `${name}.csr`], dir);
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "2",
    "-out", `${name}.crt`], dir);
  return pem(dir, name);
}
