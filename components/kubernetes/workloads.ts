import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { imageRefs } from "../runtime/images";

export interface PauseArgs {
  replicas: number;
  /** How many workers the stack has: with none, nothing can run the pods. */
  workers: number;
  kubernetesVersion: string;
  provider: k8s.Provider;
}

/**
 * The workshop's "really boring application" (`kubectl run pause`): a Deployment of the pause image, the
 * image every node has already. With no worker its pods stay Pending, as in the workshop; `up` then does
 * not wait for them (the provider's skipAwait annotation), and it waits again for Ready replicas once a
 * worker exists.
 */
export function pauseDeployment(
  name: string,
  args: PauseArgs,
  opts: pulumi.CustomResourceOptions = {},
): k8s.apps.v1.Deployment {
  const labels = { app: "pause" };
  return new k8s.apps.v1.Deployment(
    name,
    {
      metadata: {
        name: "pause",
        namespace: "default",
        labels,
        annotations: args.workers === 0 ? { "pulumi.com/skipAwait": "true" } : {},
      },
      spec: {
        replicas: args.replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: "pause",
                image: imageRefs(args.kubernetesVersion).pause,
                // No registry is reachable: every node has the image imported (NodeRuntime).
                imagePullPolicy: "Never",
                resources: { requests: { cpu: "10m", memory: "8Mi" }, limits: { memory: "16Mi" } },
              },
            ],
            terminationGracePeriodSeconds: 5,
          },
        },
      },
    },
    { ...opts, provider: args.provider },
  );
}
