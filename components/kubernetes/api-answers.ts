// The workstation's first contact with the API, made an event to wait for. The Kubernetes provider
// loads the API's OpenAPI schema on first use, once, with a 32 s bound, and fails the whole update when
// that request breaks: on a busy machine, right after three API servers started, the schema is built
// lazily and a connection through the virtual IP can break while it moves. This waits until the API
// answers the workstation, by the address the provider uses, with /readyz and the schema three times in
// a row (so the API server behind it has built it), bounded, and says what it saw when it gives up.
import * as https from "https";
import * as pulumi from "@pulumi/pulumi";

export interface ApiAnswersArgs {
  /** The address the provider uses (https://127.0.0.1:<forward> on a local lab). */
  server: pulumi.Input<string>;
  caPem: pulumi.Input<string>;
  certPem: pulumi.Input<string>;
  keyPem: pulumi.Input<string>;
  /** How long to wait, in seconds. */
  timeoutSeconds: pulumi.Input<number>;
}

interface ApiAnswersState {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  timeoutSeconds: number;
}

/** Two answers in a row are not enough to call a path stable; three are what the wait asks for. */
const inARow = 3;

// Dynamic providers are serialized into the state and run later: everything comes in as arguments.
async function awaitAnswers(s: ApiAnswersState): Promise<void> {
  const get = (path: string, accept: string, timeoutMs: number) =>
    new Promise<number>((resolve, reject) => {
      const req = https.get(
        new URL(path, s.server),
        { ca: s.caPem, cert: s.certPem, key: s.keyPem, headers: { accept }, timeout: timeoutMs },
        (res) => {
          res.on("data", () => undefined);
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer to ${path} within ${timeoutMs / 1000} s`)));
      req.on("error", reject);
    });
  // The schema in the form the provider asks for it (client-go's protobuf), JSON as a fallback.
  const schema = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json";
  const deadline = Date.now() + s.timeoutSeconds * 1000;
  let streak = 0;
  let attempts = 0;
  let last = "";
  while (Date.now() < deadline) {
    attempts++;
    try {
      const ready = await get("/readyz", "text/plain", 10_000);
      const openapi = ready === 200 ? await get("/openapi/v2", schema, 60_000) : undefined;
      if (ready === 200 && openapi === 200) {
        if (++streak >= inARow) return;
        continue;
      }
      last = openapi === undefined ? `/readyz: HTTP ${ready}` : `/openapi/v2: HTTP ${openapi}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    streak = 0;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(
    `the API at ${s.server} did not answer /readyz and /openapi/v2 ${inARow} times in a row within ${s.timeoutSeconds} s (${attempts} attempts; the last failure: ${last || "none"})`,
  );
}

/** The ApiAnswers resource's dynamic provider; exported for tests. */
export const apiAnswersProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: ApiAnswersState) {
    await awaitAnswers(inputs);
    // Only what identifies the wait goes into the state: no key.
    return { id: inputs.server, outs: { server: inputs.server, timeoutSeconds: inputs.timeoutSeconds } };
  },
  diff(_id: string, olds: Partial<ApiAnswersState>, news: ApiAnswersState) {
    // Another address (another forward, your own hosts) is another first contact.
    return Promise.resolve({ changes: olds.server !== news.server });
  },
  async update(_id: string, _olds: Partial<ApiAnswersState>, news: ApiAnswersState) {
    await awaitAnswers(news);
    return { outs: { server: news.server, timeoutSeconds: news.timeoutSeconds } };
  },
};

/** Completes once the API answers the workstation by `server` (see the top of this file). */
export class ApiAnswers extends pulumi.dynamic.Resource {
  constructor(name: string, args: ApiAnswersArgs, opts?: pulumi.CustomResourceOptions) {
    super(apiAnswersProvider, name, args, opts, "rwk", "ApiAnswers");
  }
}
