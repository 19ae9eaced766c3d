import {
  expectMembers,
  expectNoAcknowledgedWriteLost,
  expectNoChanges,
  expectOutput,
  expectPutGet,
} from "./checks";
import type { Drill, DrillStep } from "./runner";
import { paths, unit } from "../components/etcd/facts";

const name = "etcd-scale";
const membersStep = (members: string[], title: string, changed?: string): DrillStep => ({
  title,
  set: { etcdMembers: members },
  check: async (ctx, step) => {
    if (changed)
      expectOutput(
        ctx,
        step,
        new RegExp(`rwk:etcd:Member etcd-${changed} (creat|delet)e?`),
        `member ${changed}`,
      );
    if (members.length === 2) expectOutput(ctx, step, /survives no failure/, "the warning for a pair");
    await expectMembers(ctx, members);
    await expectPutGet(ctx, `${name}-${members.length}`);
    await expectNoAcknowledgedWriteLost(ctx);
  },
});

/** The workshop's path: one member, the unsafe pair, three; then back down, one member at a time. */
export const etcdScale: Drill = {
  name,
  title: "etcd scale 1 → 2 → 3 → 2 → 1",
  writerIntervalMs: 100,
  steps: () => [
    membersStep(["core-01"], "one member on core-01"),
    {
      title: "unchanged config: a second up",
      set: {},
      check: (ctx, step) => Promise.resolve(expectNoChanges(ctx, step)),
    },
    membersStep(["core-01", "core-02"], "add core-02: the unsafe pair", "core-02"),
    membersStep(["core-01", "core-02", "core-03"], "add core-03", "core-03"),
    membersStep(["core-01", "core-02"], "remove core-03", "core-03"),
    membersStep(["core-01"], "remove core-02", "core-02"),
    {
      title: "remove the last member without allowDataLoss: refused at preview",
      set: { etcdMembers: [] },
      expectUpError: /etcdMembers: an empty member set ends the etcd cluster .*:allowDataLoss to "/,
      check: async (ctx) => {
        await expectMembers(ctx, ["core-01"]);
        await expectNoAcknowledgedWriteLost(ctx);
      },
    },
    {
      title: "remove the last member with allowDataLoss: the cluster ends, its data is kept",
      set: (previous) => ({ etcdMembers: [], allowDataLoss: previous.config.stack }),
      check: async (ctx) => {
        const r = await ctx.ssh(
          "core-01",
          `systemctl is-active ${unit}; ls -d ${paths.dataDir}.ended-*/member && test ! -e ${paths.dataDir}`,
        );
        if (!/^inactive\n\/var\/lib\/etcd\/rwk\.ended-\d{8}T\d{6}Z\/member\n$/.test(r.stdout))
          throw new Error(`the last member's data is not kept as expected: ${r.stdout}${r.stderr}`);
        ctx.note(`etcd stopped on core-01; its data directory is kept: ${r.stdout.split("\n")[1] ?? ""}`);
        // Every write was read back at the step before; ending the cluster takes them with it, on purpose.
        ctx.expectLost(ctx.writes().map((w) => w.key));
      },
    },
  ],
};
