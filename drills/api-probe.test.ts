import { describeFailure, parseApiProbeArgs, probeObjectName } from "./api-probe";

describe("the API probe", () => {
  it("reads its arguments, with defaults for the cadence and the client's bound", () => {
    expect(
      parseApiProbeArgs(["--server", "https://172.17.8.101:6443", "--tls-dir", "/t", "--run", "r1"]),
    ).toEqual({
      server: "https://172.17.8.101:6443",
      tlsDir: "/t",
      run: "r1",
      intervalMs: 100,
      timeoutMs: 10_000,
    });
    expect(() => parseApiProbeArgs(["--server", "x", "--tls-dir", "/t", "--run", "Not OK"])).toThrow(
      "--server, --tls-dir and --run",
    );
    expect(() => parseApiProbeArgs(["--bogus", "1"])).toThrow("unknown argument --bogus");
  });

  it("names each write's ConfigMap so that they sort in write order", () => {
    expect(probeObjectName("r1", 7)).toBe("rwk-probe-r1-000007");
    expect(probeObjectName("r1", 10) > probeObjectName("r1", 9)).toBe(true);
  });

  it("says what a client saw: the API's Status message, a plain body, or the transport's error", () => {
    const status = JSON.stringify({ kind: "Status", message: "Timeout: request did not complete" });
    expect(describeFailure({ status: 504, body: status })).toBe(
      "HTTP 504: Timeout: request did not complete",
    );
    expect(describeFailure({ status: 503, body: "etcd not ready\n" })).toBe("HTTP 503: etcd not ready");
    expect(describeFailure(new Error("connect ECONNREFUSED 172.17.8.101:6443"))).toBe(
      "connect ECONNREFUSED 172.17.8.101:6443",
    );
  });
});
