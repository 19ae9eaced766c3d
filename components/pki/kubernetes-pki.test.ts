import { apiserverSans } from "./kubernetes-pki";

describe("an API server's serving certificate", () => {
  it("names the in-cluster names, the service IP, loopback, its host and the virtual IP", () => {
    expect(
      apiserverSans({
        host: { name: "core-02", address: "172.17.8.102" },
        serviceIp: "10.3.0.1",
        clusterDomain: "lab.example",
        apiVirtualIp: "172.17.8.100",
      }),
    ).toEqual({
      dnsNames: [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.lab.example",
        "localhost",
        "core-02",
      ],
      // 127.0.0.1: the workstation reaches the API server through a lab forward on loopback.
      ipAddresses: ["10.3.0.1", "127.0.0.1", "172.17.8.102", "172.17.8.100"],
    });
  });

  it("names no virtual IP when the stack has none", () => {
    const sans = apiserverSans({
      host: { name: "core-01", address: "172.17.8.101" },
      serviceIp: "10.3.0.1",
      clusterDomain: "cluster.local",
    });
    expect(sans.ipAddresses).toEqual(["10.3.0.1", "127.0.0.1", "172.17.8.101"]);
  });
});
