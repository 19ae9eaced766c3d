import { transition } from "./machine";

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
