import { drillTests } from "./drills";

drillTests(0);
