import { pulumiDiagnostics } from "./stack";

describe("pulumiDiagnostics", () => {
  const output = [
    "Updating (run-api-failover):",
    " +  rwk:host:Lab lab creating (0s) ",
    " +  rwk:kubernetes:Keepalived keepalived-core-02 creating failed error: exit 1",
    "Diagnostics:",
    "  command:remote:Command (keepalived-core-02-start):",
    "    error: Process exited with status 1: the VIP did not answer /readyz within 60 s",
    "",
    "  pulumi:pulumi:Stack (real-world-kubernetes-run-api-failover):",
    "    error: update failed",
    "Resources:",
    "    + 41 created",
    "Duration: 3m2s",
  ].join("\n");

  it("returns the errors by resource, without the progress lines or the summary", () => {
    expect(pulumiDiagnostics(output)).toBe(
      [
        "  command:remote:Command (keepalived-core-02-start):",
        "    error: Process exited with status 1: the VIP did not answer /readyz within 60 s",
        "  pulumi:pulumi:Stack (real-world-kubernetes-run-api-failover):",
        "    error: update failed",
      ].join("\n"),
    );
  });

  it("caps a long section and says so", () => {
    expect(pulumiDiagnostics(output, 2).split("\n")).toEqual([
      "  command:remote:Command (keepalived-core-02-start):",
      "    error: Process exited with status 1: the VIP did not answer /readyz within 60 s",
      "  […]",
    ]);
  });

  it("is empty for output without diagnostics", () => {
    expect(pulumiDiagnostics("Updating (x):\nResources:\n    5 unchanged\n")).toBe("");
  });
});
