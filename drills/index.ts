import { apiEtcdOutage } from "./api-etcd-outage";
import { apiFailover } from "./api-failover";
import { apiMemberFailure } from "./api-member-failure";
import { certRotation } from "./cert-rotation";
import { etcdScale } from "./etcd-scale";

import { k8sDataRestore } from "./k8s-data-restore";
import { leaderFailover } from "./leader-failover";
import { memberFailure } from "./member-failure";
import { quorumLoss } from "./quorum-loss";
import { restoreClassic } from "./restore-classic";
import { restoreInPlace } from "./restore-in-place";
import { restoreSnapshot } from "./restore-snapshot";
import { secureEtcd } from "./secure-etcd";
import { upgrade } from "./upgrade";
import { workerFailure } from "./worker-failure";
import type { Drill } from "./runner";

/** Every drill, by name (also the name of its stack and of its Pulumi.<name>.yaml). */
export const drills: Record<string, Drill> = Object.fromEntries(
  [
    etcdScale,
    memberFailure,
    quorumLoss,
    secureEtcd,
    certRotation,
    restoreClassic,
    restoreSnapshot,
    restoreInPlace,
    apiEtcdOutage,
    k8sDataRestore,
    workerFailure,
    apiFailover,
    leaderFailover,
    apiMemberFailure,
    upgrade,
  ].map((d) => [d.name, d]),
);
