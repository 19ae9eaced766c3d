import * as http from "http";
import type { AddressInfo } from "net";
import { get, parseHttpProbeArgs } from "./http-probe";

describe("the HTTP probe", () => {
  it("reads its arguments, with defaults for the cadence and the client's bound", () => {
    expect(parseHttpProbeArgs(["--url", "http://172.17.8.101:30080/"])).toEqual({
      url: "http://172.17.8.101:30080/",
      intervalMs: 100,
      timeoutMs: 2000,
    });
    expect(() => parseHttpProbeArgs(["--url", "https://x/"])).toThrow("--url http://HOST:PORT/PATH");
    expect(() => parseHttpProbeArgs(["--url", "http://x/", "--interval", "0"])).toThrow("positive");
    expect(() => parseHttpProbeArgs(["--bogus", "1"])).toThrow("unknown argument --bogus");
  });

  it("records the pod that answered, an error status, and a request that gets no answer in time", async () => {
    const server = http.createServer((req, res) => {
      if (req.url === "/slow") return; // never answers
      res.statusCode = req.url === "/" ? 200 : 503;
      res.end(req.url === "/" ? "web-abc\n" : "down");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const opts = (path: string) => ({ url: `${base}${path}`, intervalMs: 100, timeoutMs: 300 });
      expect(await get(opts("/"), 1)).toMatchObject({ seq: 1, ok: true, pod: "web-abc" });
      expect(await get(opts("/x"), 2)).toMatchObject({ seq: 2, ok: false, error: "HTTP 503" });
      const slow = await get(opts("/slow"), 3);
      expect(slow).toMatchObject({ ok: false, error: "no answer within 300 ms" });
      expect(slow.end - slow.start).toBeGreaterThanOrEqual(290);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
