import { faultTolerance, sizeWarnings } from "./etcd";

describe("what a member set survives", () => {
  it.each([
    [1, 1, 0],
    [2, 2, 0],
    [3, 2, 1],
    [4, 3, 1],
    [5, 3, 2],
  ])("%i members: quorum %i, tolerates %i", (n, quorum, tolerates) => {
    expect(faultTolerance(n)).toEqual({ quorum, tolerates });
  });

  it("warns about the pair and about even sizes, not about odd ones", () => {
    expect(sizeWarnings(["core-01", "core-02"])).toEqual([
      "etcd has 2 members (core-01, core-02): quorum is 2 of 2, so this pair survives no failure; add a third member (etcdMembers) before relying on it",
    ]);
    expect(sizeWarnings(["a", "b", "c", "d"])).toEqual([
      "etcd has 4 members (a, b, c, d): quorum is 3, so it tolerates 1 failure(s), no more than 3 members would; add or remove one (etcdMembers)",
    ]);
    expect(sizeWarnings(["a"])).toEqual([]);
    expect(sizeWarnings(["a", "b", "c"])).toEqual([]);
  });
});
