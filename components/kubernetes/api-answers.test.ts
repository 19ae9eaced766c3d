import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { apiAnswersProvider } from "./api-answers";

/** A real TLS server on loopback, its certificate made by openssl, answering as `answer` says. */
function server(answer: (path: string) => number): Promise<{ url: string; ca: string; close: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "api-answers-"));
  const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
  execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ]);
  const ca = fs.readFileSync(cert, "utf8");
  const srv = https.createServer({ key: fs.readFileSync(key), cert: ca }, (req, res) => {
    res.writeHead(answer(req.url ?? "")).end("ok");
  });
  fs.rmSync(dir, { recursive: true });
  return new Promise((resolve) =>
    srv.listen(0, "127.0.0.1", () =>
      resolve({
        url: `https://127.0.0.1:${(srv.address() as AddressInfo).port}`,
        ca,
        close: () => srv.close(),
      }),
    ),
  );
}

const state = (server: string, caPem: string, timeoutSeconds: number) => ({
  server,
  caPem,
  certPem: caPem,
  keyPem: "",
  timeoutSeconds,
});

describe("ApiAnswers: the API answers the workstation", () => {
  it("completes once /readyz and the schema answer three times in a row, and keeps no key", async () => {
    const seen: string[] = [];
    let schemaCalls = 0;
    // The schema fails once after two good answers: the streak starts again.
    const s = await server((p) => {
      seen.push(p);
      if (p !== "/openapi/v2") return 200;
      schemaCalls++;
      return schemaCalls === 3 ? 503 : 200;
    });
    try {
      const r = await apiAnswersProvider.create(state(s.url, s.ca, 30));
      expect(r.outs).toEqual({ server: s.url, timeoutSeconds: 30 });
      expect(schemaCalls).toBe(6);
      expect(seen.filter((p) => p === "/readyz")).toHaveLength(6);
    } finally {
      s.close();
    }
  });

  it("gives up at its bound and says what it awaited and what it last saw", async () => {
    const s = await server((p) => (p === "/readyz" ? 500 : 200));
    try {
      await expect(apiAnswersProvider.create(state(s.url, s.ca, 2))).rejects.toThrow(
        new RegExp(
          `the API at ${s.url} did not answer /readyz and /openapi/v2 3 times in a row within 2 s \\(\\d+ attempts; the last failure: /readyz: HTTP 500\\)`,
        ),
      );
    } finally {
      s.close();
    }
  });

  it("waits again only for another address", async () => {
    const olds = { server: "https://127.0.0.1:1", timeoutSeconds: 300 };
    expect((await apiAnswersProvider.diff!("id", olds, state(olds.server, "", 300))).changes).toBe(false);
    expect(
      (await apiAnswersProvider.diff!("id", olds, state("https://10.0.0.1:6443", "", 300))).changes,
    ).toBe(true);
  });
});
