import { labAccess, parseMemberList, parseEndpointStatus } from "./lab";
import { headerClusterId, attemptArgs, parseWriterArgs, writeKey } from "../drills/writer";

describe("parseMemberList", () => {
  it("reads etcdctl's simple output, IDs as hex strings, unstarted members too", () => {
    const out = [
      "8e9e05c52164694d, started, core-01, https://172.17.8.101:2380, https://172.17.8.101:2379, false",
      "fd422379fda50e48, unstarted, , https://172.17.8.102:2380, , true",
      "",
    ].join("\n");
    expect(parseMemberList(out)).toEqual([
      {
        id: "8e9e05c52164694d",
        status: "started",
        name: "core-01",
        peerUrls: ["https://172.17.8.101:2380"],
        clientUrls: ["https://172.17.8.101:2379"],
        learner: false,
      },
      {
        id: "fd422379fda50e48",
        status: "unstarted",
        name: "",
        peerUrls: ["https://172.17.8.102:2380"],
        clientUrls: [],
        learner: true,
      },
    ]);
  });
});

describe("labAccess", () => {
  it("enters the lab's switch namespace for the local drivers only", () => {
    expect(labAccess("machines", "rwk-dev")).toEqual(["ip", "netns", "exec", "rwk-dev-sw"]);
    expect(labAccess("vagrant", "rwk-dev")).toEqual(["ip", "netns", "exec", "rwk-dev-sw"]);
    expect(labAccess("ssh", "rwk-dev")).toEqual([]);
  });
});

describe("the writer", () => {
  it("parses its arguments and refuses unknown ones", () => {
    expect(parseWriterArgs(["--addresses", "a,b", "--prefix", "/p/", "--interval", "1000"])).toEqual({
      addresses: ["a", "b"],
      prefix: "/p/",
      intervalMs: 1000,
      timeoutMs: 2000,
    });
    expect(() => parseWriterArgs(["--endpoints", "x"])).toThrow("writer: unknown argument --endpoints");
    expect(() => parseWriterArgs([])).toThrow("writer: --addresses and --prefix are required");
  });

  it("puts to every member on one scheme, with the client certificate for https", () => {
    const opts = {
      addresses: ["172.17.8.101", "172.17.8.102"],
      prefix: "/p/",
      intervalMs: 100,
      timeoutMs: 2000,
      tlsDir: "/t",
    };
    expect(attemptArgs(opts, "http")).toEqual([
      "--endpoints=http://172.17.8.101:2379,http://172.17.8.102:2379",
      "--dial-timeout=1s",
      "--command-timeout=2000ms",
    ]);
    expect(attemptArgs(opts, "https").slice(3)).toEqual([
      "--cacert=/t/ca.crt",
      "--cert=/t/client.crt",
      "--key=/t/client.key",
    ]);
  });

  it("keeps keys in write order", () => {
    expect([writeKey("/p/", 10), writeKey("/p/", 9)].sort()).toEqual(["/p/0000009", "/p/0000010"]);
  });

  it("takes the acknowledging cluster's ID from the put's JSON header, exactly (a uint64)", () => {
    const out =
      '{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":2,"raft_term":2}}\n';
    expect(headerClusterId(out)).toBe("14841639068965178418");
    expect(headerClusterId("OK\n")).toBeUndefined();
    expect(headerClusterId('{"header":{"member_id":1}}')).toBeUndefined();
  });
});

describe("parseEndpointStatus", () => {
  // etcdctl 3.4's `endpoint status -w fields` for two endpoints, as printed (IDs beyond 2^53).
  const block = (id: string, endpoint: string) =>
    [
      '"ClusterID" : 14841639068965178418',
      `"MemberID" : ${id}`,
      '"Revision" : 17',
      '"RaftTerm" : 2',
      '"Version" : "3.4.23"',
      '"DBSize" : 20480',
      '"Leader" : 10276657743932975437',
      '"IsLearner" : false',
      '"RaftIndex" : 4',
      '"RaftTerm" : 2',
      '"RaftAppliedIndex" : 4',
      '"Errors" : []',
      `"Endpoint" : "${endpoint}"`,
    ].join("\n");

  it("keeps 64-bit IDs exact and reads one status per endpoint", () => {
    const text = `${block("10276657743932975437", "https://172.17.8.101:2379")}\n${block("9372538179322589801", "https://172.17.8.102:2379")}\n`;
    expect(parseEndpointStatus(text)).toEqual([
      {
        endpoint: "https://172.17.8.101:2379",
        memberId: "10276657743932975437",
        leader: "10276657743932975437",
        revision: 17,
        version: "3.4.23",
      },
      {
        endpoint: "https://172.17.8.102:2379",
        memberId: "9372538179322589801",
        leader: "10276657743932975437",
        revision: 17,
        version: "3.4.23",
      },
    ]);
  });
});
