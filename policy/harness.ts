// Runs a policy as the policy server would, without an engine (@pulumi/policy ships no test helpers; this
// is pulumi-policy-aws's pattern): props wrapped in unknownCheckingProxy, violations collected.
import * as policySdk from "@pulumi/policy";
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";

/** The server's wrapper of props, which throws UnknownValueError on reading an unknown (untyped in its d.ts). */
const unknownCheckingProxy = (policySdk as unknown as { unknownCheckingProxy: <T extends object>(o: T) => T })
  .unknownCheckingProxy;

/** What the engine sends for a value not known during preview (a string; the server's sentinel). */
export const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const opts = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  additionalSecretOutputs: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
};

const notApplicable = (reason?: string): never => {
  throw new Error(`not applicable: ${reason ?? ""}`);
};

/** A resource as a policy sees it: its type, name and props (a component's args, or its outputs). */
export function resource(type: string, name: string, props: Record<string, unknown>): PolicyResource {
  return {
    type,
    name,
    urn: `urn:pulumi:dev::real-world-kubernetes::${type}::${name}`,
    props: unknownCheckingProxy(props),
    opts,
    dependencies: [],
    propertyDependencies: {},
    // The rules select by type token: no resource class to compare with.
    isType: () => false,
    asType: () => undefined,
  };
}

/** The violations a resource policy reports for one resource. */
export async function violationsOf(
  policy: ResourceValidationPolicy,
  type: string,
  name: string,
  props: Record<string, unknown>,
): Promise<string[]> {
  const { urn, opts } = resource(type, name, props);
  const args: ResourceValidationArgs = {
    type,
    name,
    urn,
    props: unknownCheckingProxy(props),
    opts,
    isType: () => false,
    asType: () => undefined,
    stackTags: new Map(),
    getConfig: <T extends object>() => ({}) as T,
    notApplicable,
  };
  const found: string[] = [];
  for (const validate of [policy.validateResource ?? []].flat())
    await validate(args, (message) => found.push(message));
  return found;
}

/** The violations a stack policy reports for these resources, with this policy config. */
export async function stackViolationsOf(
  policy: StackValidationPolicy,
  resources: PolicyResource[],
  config: object = {},
): Promise<{ message: string; urn?: string }[]> {
  const found: { message: string; urn?: string }[] = [];
  await policy.validateStack(
    {
      resources,
      stackTags: new Map(),
      getConfig: <T extends object>() => config as T,
      notApplicable,
    },
    (message, urn) => found.push({ message, ...(urn ? { urn } : {}) }),
  );
  return found;
}
