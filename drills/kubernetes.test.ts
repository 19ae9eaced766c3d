import { kubectlOk } from "./kubernetes";
import type { RunResult } from "../workstation/lab";
import type { DrillContext } from "./runner";

/** A drill context whose kubectl answers from a list, one reply per call, and records the calls. */
function replying(...replies: RunResult[]): { ctx: DrillContext; calls: string[][] } {
  const calls: string[][] = [];
  const ctx = {
    kubectl: (args: string[]) => {
      calls.push(args);
      const reply = replies.shift();
      if (!reply) throw new Error("kubectl called more often than the test expects");
      return Promise.resolve(reply);
    },
  } as unknown as DrillContext;
  return { ctx, calls };
}

const eof: RunResult = {
  code: 1,
  stdout: "",
  stderr: "Unable to connect to the server: unexpected EOF\n",
  ms: 5,
};
const ok: RunResult = { code: 0, stdout: "pod/p1\n", stderr: "", ms: 5 };

describe("kubectlOk", () => {
  it("asks a read again when the request got no answer", async () => {
    const { ctx, calls } = replying(eof, ok);
    await expect(kubectlOk(ctx, ["get", "pods", "-o", "name"])).resolves.toBe("pod/p1");
    expect(calls).toHaveLength(2);
  });

  it("asks a delete that ignores not-found again, and no other delete", async () => {
    const again = replying(eof, ok);
    await expect(kubectlOk(again.ctx, ["delete", "pod", "p1", "--ignore-not-found"])).resolves.toBe("pod/p1");
    expect(again.calls).toHaveLength(2);
    const once = replying(eof, ok);
    await expect(kubectlOk(once.ctx, ["delete", "pod", "p1"])).rejects.toThrow(
      "kubectl delete pod p1: exit 1: Unable to connect to the server: unexpected EOF",
    );
    expect(once.calls).toHaveLength(1);
  });

  it("never repeats a create, which may have reached the server", async () => {
    const { ctx, calls } = replying(eof, ok);
    await expect(kubectlOk(ctx, ["create", "configmap", "c"])).rejects.toThrow(/unexpected EOF/);
    expect(calls).toHaveLength(1);
  });

  it("fails at once on an answer, whatever the verb", async () => {
    const { ctx, calls } = replying({
      code: 1,
      stdout: "",
      stderr: 'Error from server (NotFound): pods "x" not found',
      ms: 5,
    });
    await expect(kubectlOk(ctx, ["get", "pod", "x"])).rejects.toThrow(
      'kubectl get pod x: exit 1: Error from server (NotFound): pods "x" not found',
    );
    expect(calls).toHaveLength(1);
  });
});
