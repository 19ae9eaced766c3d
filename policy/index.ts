// The rwk-safety policy pack: `pulumi preview --policy-pack policy` (README.md in this directory).
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("rwk-safety", { policies });
