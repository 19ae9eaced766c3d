import { measuredSection } from "./measured";

describe("measuredSection", () => {
  it("renders a run's numbers between the markers", () => {
    const section = measuredSection({
      drill: "example",
      title: "an example",
      stack: "example",
      machine: "test machine",
      startedAt: Date.UTC(2026, 10, 25, 12, 0),
      steps: [
        {
          title: "one",
          commands: [],
          upStart: 0,
          upEnd: 12_000,
          checksEnd: 12_500,
          changes: {},
          output: "",
          checks: [],
          numbers: { RTO: "1.0 s" },
        },
      ],
      writes: [{ seq: 1, key: "/k/1", value: "v", start: 0, end: 10, ok: true }],
      missing: [],
      expectedLost: ["/k/2"],
      outcome: "passed",
    });
    expect(section).toMatchSnapshot();
    expect(section.startsWith("<!-- measured:start -->")).toBe(true);
    expect(section.endsWith("<!-- measured:end -->")).toBe(true);
  });
});
