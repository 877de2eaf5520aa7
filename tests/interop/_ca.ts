// A private CA and a server certificate it signs, for 127.0.0.1 and localhost, made at test time
// with openssl. (A self-signed certificate is a CA certificate, which rustls, under Deno's
// WebSocket, refuses as a server's certificate; a leaf signed by a CA is accepted everywhere.)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function certificateAuthority(): { ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "wsflow-ca-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  try {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=wsflow interop CA", "-keyout", at("ca.key"), "-out", at("ca.pem"));
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-subj", "/CN=localhost", "-keyout", at("key.pem"), "-out", at("leaf.csr"));
    writeFileSync(at("leaf.ext"), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n");
    openssl("x509", "-req", "-in", at("leaf.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca.key"), "-CAcreateserial",
      "-days", "1", "-extfile", at("leaf.ext"), "-out", at("cert.pem"));
    return { ca: readFileSync(at("ca.pem"), "utf8"), cert: readFileSync(at("cert.pem"), "utf8"), key: readFileSync(at("key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
