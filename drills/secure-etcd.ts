import { expectMembers, expectNoAcknowledgedWriteLost, expectPutGet } from "./checks";
import type { Drill, PlannedStep } from "./runner";
import { expectClientAuth, expectKeyModes, expectLeavesVerify, expectNoPlaintextKeys } from "./tls-checks";

const name = "secure-etcd";
const all = ["core-01", "core-02", "core-03"];

/**
 * Planned operations by kind. A replacement also shows as its create-replacement and delete-replaced
 * halves, and the dynamic-provider plugin is "updated" by any config change (it receives the stack's
 * config); neither is a change of a resource of ours.
 */
const count = (planned: PlannedStep[]) => {
  const out: Record<string, number> = {};
  for (const p of planned) {
    if (p.op === "create-replacement" || p.op === "delete-replaced" || p.type.startsWith("pulumi:providers:"))
      continue;
    out[`${p.op} ${p.type}`] = (out[`${p.op} ${p.type}`] ?? 0) + 1;
  }
  return out;
};

/** The workshop's "etcd on HTTPS", done properly: clients and peers on mutual TLS, one member at a time. */
export const secureEtcd: Drill = {
  name,
  title: "secure etcd: plaintext → mutual TLS on clients and peers",
  writerIntervalMs: 100,
  steps: [
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
        await expectNoAcknowledgedWriteLost(ctx, name);
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
        await expectNoAcknowledgedWriteLost(ctx, name);
      },
    },
    {
      title: "preview of a CA change: exactly the certificates and pushes that depend on it",
      set: {},
      check: async (ctx) => {
        const planned = count(await ctx.preview({ "pki.caValidityHours": 87599 }));
        const expected = {
          "replace tls:index/selfSignedCert:SelfSignedCert": 1,
          // 3 members × (server + peer) + operator + apiserver
          "replace tls:index/locallySignedCert:LocallySignedCert": 8,
          "update command:remote:Command": 6,
        };
        const got = Object.fromEntries(
          Object.entries(planned).filter(([k]) => !k.includes("pulumi:pulumi:Stack")),
        );
        if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(expected).sort())) {
          throw new Error(
            `preview of a CA change planned ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`,
          );
        }
        ctx.note(
          "`pulumi preview` of a CA change: replaces the CA and the 8 certificates it signed, updates the 3 file pushes and the 3 restarts (a new CA needs one), nothing else",
        );
      },
    },
  ],
};
