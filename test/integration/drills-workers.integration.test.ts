import { drillTests } from "./drills";

drillTests("workers");
