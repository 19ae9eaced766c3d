import { certRotation } from "./cert-rotation";
import { etcdScale } from "./etcd-scale";
import { memberFailure } from "./member-failure";
import { quorumLoss } from "./quorum-loss";
import { secureEtcd } from "./secure-etcd";
import type { Drill } from "./runner";

/** Every drill, by name (also the name of its stack and of its Pulumi.<name>.yaml). */
export const drills: Record<string, Drill> = Object.fromEntries(
  [etcdScale, memberFailure, quorumLoss, secureEtcd, certRotation].map((d) => [d.name, d]),
);
