import { drillTests } from "./drills";

drillTests("ha-0");
