import { drillTests } from "./drills";

drillTests(1);
