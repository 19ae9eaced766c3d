// real-world-kubernetes: the workshop's hosts and etcd member set, driven by this stack's config.
import { loadConfig } from "./config";
import { Cluster, placementsOf } from "./components/etcd/cluster";
import { Lab } from "./components/host/lab";
import { EtcdPki } from "./components/pki/etcd-pki";

const config = loadConfig();

const lab = new Lab("lab", { config });
const members = placementsOf(lab.hosts).filter((p) => config.etcd.members.includes(p.name));
const pki = config.etcd.tls === "off" ? undefined : new EtcdPki("etcd-pki", { spec: config.pki, members });
const etcd = new Cluster("etcd", {
  spec: config.etcd,
  hosts: lab.hosts,
  token: config.lab,
  ...(pki ? { pki } : {}),
});

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
export const etcdTls = config.etcd.tls;
/** The CA and the operator's client certificate, for etcdctl (`--cacert/--cert/--key`). */
export const etcdCaCert = pki?.ca.certPem;
export const etcdOperatorCert = pki?.operator.certPem;
export const etcdOperatorKey = pki?.operator.privateKeyPem;
