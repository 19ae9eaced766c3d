import { drillTests } from "./drills";

drillTests("ha");
