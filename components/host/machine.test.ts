import { hostState, transition } from "./machine";

describe("transition", () => {
  it.each([
    ["running", "running", []],
    ["stopped", "running", ["start"]],
    ["destroyed", "running", ["create"]],
    ["running", "stopped", ["stop"]],
    ["destroyed", "stopped", ["create", "stop"]],
    ["running", "destroyed", ["destroy"]],
    ["stopped", "destroyed", ["destroy"]],
    ["destroyed", "destroyed", []],
  ] as const)("%s → %s: %j", (from, to, steps) => {
    expect(transition(from, to)).toEqual(steps);
  });
});

describe("hostState", () => {
  it.each([
    ["running", "running"],
    ["stopped", "stopped"],
    ["absent", "destroyed"],
    ["", "destroyed"],
  ] as const)("driver status %j reads %s", (status, state) => {
    expect(hostState(status)).toBe(state);
  });
});
