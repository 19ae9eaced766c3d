import { drillTests } from "./drills";

drillTests("ha-1");
