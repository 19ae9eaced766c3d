import { validateConfig } from "../config";
import { neededBuilds } from "./needed";

const ctx = { project: "real-world-kubernetes", stack: "dev" };

describe("neededBuilds", () => {
  it("builds the stack's etcd alone while it has no Kubernetes role", () => {
    expect(neededBuilds(validateConfig({}, ctx))).toEqual(["etcd@3.6.16"]);
    expect(neededBuilds(validateConfig({ etcdVersion: "3.5.35" }, ctx))).toEqual(["etcd@3.5.35"]);
  });

  it("adds its Kubernetes release and the container tools once a host has a role", () => {
    expect(
      neededBuilds(
        validateConfig(
          { controlPlane: ["core-01"], workers: ["core-02"], kubernetesVersion: "1.33.13" },
          ctx,
        ),
      ),
    ).toEqual(["etcd@3.6.16", "kubernetes@1.33.13", "crictl@1.34.0", "cni-plugins@1.10.0", "images@1.33.13"]);
  });
});
