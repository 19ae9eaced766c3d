import { longestAckGap } from "./checks";
import type { WriteRecord } from "./writer";

const write = (seq: number, end: number, ok = true): WriteRecord => ({
  seq,
  key: `k${seq}`,
  value: "",
  start: end - 50,
  end,
  ok,
});

describe("longestAckGap", () => {
  it("measures between acknowledgements around the window, ignoring failed writes", () => {
    const writes = [write(1, 1000), write(2, 1100), write(3, 1300, false), write(4, 2500), write(5, 2600)];
    expect(longestAckGap(writes, 1050, 2600)).toBe(1400);
  });

  it("leaves out gaps wholly before or after the window", () => {
    const writes = [write(1, 0), write(2, 5000), write(3, 5100), write(4, 5200), write(5, 9000)];
    expect(longestAckGap(writes, 5050, 5200)).toBe(100);
  });
});
