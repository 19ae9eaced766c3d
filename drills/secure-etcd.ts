import { expectMembers, expectNoAcknowledgedWriteLost, expectPutGet } from "./checks";
import type { Drill, DrillContext, PlannedStep } from "./runner";
import { expectClientAuth, expectKeyModes, expectLeavesVerify, expectNoPlaintextKeys } from "./tls-checks";

const name = "secure-etcd";
const all = ["core-01", "core-02", "core-03"];

/**
 * Planned operations by kind. A replacement also shows as its create-replacement and delete-replaced
 * halves, and the dynamic-provider plugin is "updated" by any config change (it receives the stack's
 * config); neither is a change of a resource of ours, nor is the stack itself.
 */
const count = (planned: PlannedStep[]) => {
  const out: Record<string, number> = {};
  for (const p of planned) {
    const half = p.op === "create-replacement" || p.op === "delete-replaced";
    if (half || p.type.startsWith("pulumi:providers:") || p.type === "pulumi:pulumi:Stack") continue;
    out[`${p.op} ${p.type}`] = (out[`${p.op} ${p.type}`] ?? 0) + 1;
  }
  return out;
};

/** `pulumi preview` of a config change plans exactly these operations, nothing else. */
async function expectPlanned(
  ctx: DrillContext,
  what: string,
  changes: Record<string, unknown>,
  expected: Record<string, number>,
): Promise<void> {
  const planned = count(await ctx.preview(changes));
  if (JSON.stringify(Object.entries(planned).sort()) !== JSON.stringify(Object.entries(expected).sort())) {
    throw new Error(
      `preview of ${what} planned ${JSON.stringify(planned)}, expected ${JSON.stringify(expected)}`,
    );
  }
  const list = Object.entries(expected).map(
    ([k, n]) => `${k.split(" ")[0]} ${n} ${k.split(":").pop() ?? ""}`,
  );
  ctx.note(`\`pulumi preview\` of ${what} plans exactly: ${list.join(", ")}; nothing else`);
}

/** The workshop's "etcd on HTTPS", done properly: clients and peers on mutual TLS, one member at a time. */
export const secureEtcd: Drill = {
  name,
  title: "secure etcd: plaintext → mutual TLS on clients and peers",
  writerIntervalMs: 100,
  steps: () => [
    {
      title: "three members, plaintext",
      set: { etcdMembers: all, etcdTls: "off" },
      check: async (ctx) => {
        await expectMembers(ctx, all);
      },
    },
    {
      title: "staged: certificates pushed, peers able to dial TLS (rolling restart)",
      set: { etcdTls: "staged" },
      check: async (ctx, step) => {
        await expectMembers(ctx, all);
        await expectKeyModes(ctx);
        expectNoPlaintextKeys(ctx, step);
        await expectNoAcknowledgedWriteLost(ctx);
      },
    },
    {
      title: "on: peer URLs to https one member at a time, client-cert auth everywhere",
      set: { etcdTls: "on" },
      check: async (ctx, step) => {
        const list = await expectMembers(ctx, all);
        const urls = (await ctx.etcd.memberList()).flatMap((m) => [...m.peerUrls, ...m.clientUrls]);
        if (urls.some((u) => !u.startsWith("https://")))
          throw new Error(`plaintext URLs left: ${urls.join(" ")}`);
        ctx.note(`all ${list.size} members advertise only https peer and client URLs`);
        await expectPutGet(ctx, `${name}-tls`);
        await expectLeavesVerify(ctx);
        await expectClientAuth(ctx);
        expectNoPlaintextKeys(ctx, step);
        await expectNoAcknowledgedWriteLost(ctx);
      },
    },
    {
      title: "preview of a CA change and of a key change: exactly what depends on them",
      set: {},
      check: async (ctx) => {
        await expectPlanned(
          ctx,
          "a CA change (its validity)",
          { "pki.caValidityHours": 87599 },
          {
            "replace tls:index/selfSignedCert:SelfSignedCert": 1,
            // 3 members × (server + peer) + operator + apiserver
            "replace tls:index/locallySignedCert:LocallySignedCert": 8,
            // 3 file pushes, and 3 restarts: etcd reads a new CA only at start
            "update command:remote:Command": 6,
          },
        );
        await expectPlanned(
          ctx,
          "a key change (ECDSA → RSA 2048)",
          { "pki.keyAlgorithm": "RSA" },
          {
            // the CA's key and the 8 leaves' keys, their requests, and every certificate
            "replace tls:index/privateKey:PrivateKey": 9,
            "replace tls:index/certRequest:CertRequest": 8,
            "replace tls:index/selfSignedCert:SelfSignedCert": 1,
            "replace tls:index/locallySignedCert:LocallySignedCert": 8,
            "update command:remote:Command": 6,
          },
        );
      },
    },
  ],
};
