import { recoveryMs, renderMarkdown, renderTimeline, writeStats } from "./report";
import type { DrillRecord } from "./report";
import type { WriteRecord } from "./writer";

const w = (seq: number, start: number, ok: boolean, took = 10): WriteRecord => ({
  seq,
  key: `/drill/x/${seq}`,
  value: "v",
  start,
  end: start + took,
  ok,
});

const writes = [
  w(1, 1000, true),
  w(2, 1100, true),
  w(3, 1200, false, 2000),
  w(4, 1300, false),
  w(5, 3400, true),
  w(6, 3500, true),
];

describe("writeStats", () => {
  it("counts and finds the longest time without an acknowledgement", () => {
    expect(writeStats(writes)).toEqual({
      total: 6,
      acknowledged: 4,
      failed: 2,
      longestGapMs: 2300,
      longestGapAt: 1110,
    });
  });

  it("counts a cluster that never answered again as unavailable until the end", () => {
    expect(writeStats([w(1, 0, true), w(2, 100, false, 5000)]).longestGapMs).toBe(5090);
  });

  it("has nothing to say about no writes", () => {
    expect(writeStats([])).toEqual({
      total: 0,
      acknowledged: 0,
      failed: 0,
      longestGapMs: 0,
      longestGapAt: 0,
    });
  });
});

describe("recoveryMs", () => {
  it("measures from the failure to the first acknowledged write after the last failed one", () => {
    expect(recoveryMs(writes, 1150, 4000)).toBe(3410 - 1150);
    expect(recoveryMs(writes, 3000, 4000)).toBeUndefined();
  });
});

const record: DrillRecord = {
  drill: "example",
  title: "an example",
  stack: "example",
  machine: "test machine",
  startedAt: 900,
  steps: [
    {
      title: "step one",
      commands: ["pulumi config set x 1"],
      upStart: 900,
      upEnd: 1200,
      checksEnd: 1250,
      changes: { create: 3 },
      output: "",
      checks: ["checked"],
    },
    {
      title: "step two",
      commands: [],
      upStart: 1250,
      upEnd: 3300,
      checksEnd: 3600,
      changes: { same: 3 },
      output: "",
      checks: [],
      numbers: { RTO: "2.1 s" },
    },
  ],
  writes,
  missing: [],
  expectedLost: [],
  outcome: "passed",
};

describe("the report", () => {
  it("renders the timeline picture", () => {
    expect(renderTimeline(record, 400)).toMatchSnapshot();
  });

  it("renders the markdown", () => {
    const md = renderMarkdown(record, "example.svg");
    expect(md).toMatchSnapshot();
    expect(md).toContain("| 6 | 4 | 2 | 2300 ms (at +210 ms) | 0 |");
  });
});
