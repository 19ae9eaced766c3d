import { apiserverSans } from "./kubernetes-pki";

describe("the API server's serving certificate", () => {
  it("names the in-cluster names, the service IP, loopback and every control-plane host", () => {
    expect(
      apiserverSans({
        controlPlane: [
          { name: "core-01", address: "172.17.8.101" },
          { name: "core-02", address: "172.17.8.102" },
        ],
        serviceIp: "10.3.0.1",
        clusterDomain: "lab.example",
      }),
    ).toEqual({
      dnsNames: [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.lab.example",
        "localhost",
        "core-01",
        "core-02",
      ],
      // 127.0.0.1: the workstation reaches the API server through a lab forward on loopback.
      ipAddresses: ["10.3.0.1", "127.0.0.1", "172.17.8.101", "172.17.8.102"],
    });
  });
});
