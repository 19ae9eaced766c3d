import * as yaml from "js-yaml";
import { renderClusterDns, renderCorefile, renderPause, renderWeb } from "./manifests";

const common = { workers: 2, kubernetesVersion: "1.34.4", tolerationSeconds: undefined };

describe("the workloads' objects", () => {
  it("renders the pause Deployment, waited for once a worker exists", () => {
    expect(yaml.dump(renderPause({ ...common, replicas: 4 }))).toMatchSnapshot();
    const pending = renderPause({ ...common, workers: 0, replicas: 1 }).metadata as {
      annotations: Record<string, string>;
    };
    expect(pending.annotations).toEqual({
      "pulumi.com/skipAwait": "true",
    });
  });

  it("renders the web service: Deployment, NodePort Service and budget", () => {
    const web = renderWeb({ ...common, replicas: 2, minAvailable: 1, tolerationSeconds: 30 });
    expect(yaml.dump(web)).toMatchSnapshot();
  });

  it("renders cluster DNS at the given address, answering for the cluster domain", () => {
    const dns = renderClusterDns({
      kubernetesVersion: "1.34.4",
      clusterIp: "10.3.0.10",
      clusterDomain: "cluster.local",
      tolerationSeconds: undefined,
    });
    expect(yaml.dump(dns)).toMatchSnapshot();
    expect(renderCorefile("example.internal")).toContain(
      "    kubernetes example.internal in-addr.arpa ip6.arpa {\n",
    );
  });
});
