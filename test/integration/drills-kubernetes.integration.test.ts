import { drillTests } from "./drills";

drillTests("kubernetes");
