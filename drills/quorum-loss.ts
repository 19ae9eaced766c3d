import { expectMembers, expectNoAcknowledgedWriteLost, expectWritesFail } from "./checks";
import { recoveryMs } from "./report";
import type { Drill } from "./runner";

const name = "quorum-loss";
const all = ["core-01", "core-02", "core-03"];

/** Two of three members down: the cluster must refuse writes, lose nothing, and heal when they return. */
export const quorumLoss: Drill = {
  name,
  title: "quorum loss: two of three members stopped",
  writerIntervalMs: 100,
  steps: () => {
    // When quorum was lost, for the recovery time.
    let lostAt = 0;
    return [
      {
        title: "three members",
        set: { etcdMembers: all },
        check: async (ctx) => {
          await expectMembers(ctx, all);
        },
      },
      {
        title: "stop core-02 and core-03",
        set: { "hostStates.core-02": "stopped", "hostStates.core-03": "stopped" },
        check: async (ctx, step) => {
          lostAt = step.upStart;
          // Nothing can be read back without quorum either: that data survived is checked once it heals.
          await expectWritesFail(ctx);
        },
      },
      {
        title: "start core-02 and core-03 again",
        set: { "hostStates.core-02": "running", "hostStates.core-03": "running" },
        check: async (ctx, step) => {
          await expectMembers(ctx, all);
          // Give the writer time to see the recovery before measuring it.
          await new Promise((r) => setTimeout(r, 2000));
          const rto = recoveryMs(ctx.writes(), lostAt, Date.now());
          step.numbers = {
            "time from the stop to the first acknowledged write after it":
              rto === undefined ? "n/a" : `${(rto / 1000).toFixed(1)} s`,
          };
          await expectNoAcknowledgedWriteLost(ctx);
        },
      },
    ];
  },
};
