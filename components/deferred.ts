/**
 * A promise resolved later by whoever holds it: a resource's `dependsOn` on a resource registered after it
 * (the engine awaits it before registering the first). Resolve it in the same program run, or the
 * dependent resource is never registered.
 */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
