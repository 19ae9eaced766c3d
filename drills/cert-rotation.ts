import { expectMembers, expectNoAcknowledgedWriteLost } from "./checks";
import type { Drill } from "./runner";
import { etcdStartTimes, servedSerials } from "./tls-checks";

const name = "cert-rotation";
const all = ["core-01", "core-02", "core-03"];

/** Leaf certificates reissued and pushed while etcd keeps running: it reloads them on every handshake. */
export const certRotation: Drill = {
  name,
  title: "certificate rotation with no etcd downtime",
  writerIntervalMs: 100,
  steps: () => {
    // What the first step saw, for the second to compare against.
    let serials = new Map<string, string>();
    let started = new Map<string, string>();
    return [
      {
        title: "three members on mutual TLS",
        set: { etcdMembers: all, etcdTls: "on" },
        check: async (ctx) => {
          await expectMembers(ctx, all);
          serials = await servedSerials(ctx);
          started = await etcdStartTimes(ctx);
          ctx.note(`serving certificates: ${[...serials].map(([h, s]) => `${h} ${s}`).join(", ")}`);
        },
      },
      {
        title: "rotate: every leaf certificate signed again and pushed",
        set: { "pki.rotation": 1 },
        check: async (ctx, step) => {
          const replaced = step.changes["replace"] ?? 0;
          if (replaced === 0) throw new Error("pulumi up replaced no certificate");
          const now = await servedSerials(ctx);
          for (const [host, serial] of now) {
            if (serial === serials.get(host)) throw new Error(`${host} still serves certificate ${serial}`);
          }
          ctx.note(
            `every member now serves a new certificate: ${[...now].map(([h, s]) => `${h} ${s}`).join(", ")}`,
          );
          const after = await etcdStartTimes(ctx);
          for (const [host, t] of after) {
            if (t !== started.get(host)) throw new Error(`etcd on ${host} was restarted by the rotation`);
          }
          ctx.note("etcd was not restarted on any member (same process start times)");
          const during = ctx.writes().filter((w) => w.start >= step.upStart && w.start <= step.upEnd);
          const failed = during.filter((w) => !w.ok).length;
          if (failed > 0) throw new Error(`${failed} of ${during.length} writes failed during the rotation`);
          ctx.note(`all ${during.length} writes during the rotation were acknowledged`);
          await expectMembers(ctx, all);
          await expectNoAcknowledgedWriteLost(ctx);
        },
      },
    ];
  },
};
