// real-world-kubernetes: the workshop's hosts and etcd member set, driven by this stack's config.
import { loadConfig } from "./config";
import { Cluster } from "./components/etcd/cluster";
import { Lab } from "./components/host/lab";

const config = loadConfig();

const lab = new Lab("lab", { config });
const etcd = new Cluster("etcd", { spec: config.etcd, hosts: lab.hosts, token: config.lab });

export const labName = config.lab;
export const driver = config.driver;
export const hosts = Object.fromEntries(
  Object.values(lab.hosts).map((h) => [
    h.hostName,
    { address: h.address, state: h.state, ssh: h.sshEndpoint },
  ]),
);
export const sshPrivateKey = lab.sshPrivateKey;
export const etcdMembers = config.etcd.members;
export const etcdEndpoints = etcd.endpoints;
