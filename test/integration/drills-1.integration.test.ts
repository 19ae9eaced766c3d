import { drillTests } from "./drills";

drillTests("etcd-0");
