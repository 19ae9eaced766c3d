// The one way onto a host: a command run there, files pushed there, a directory copied there. Each is
// bound to the host the same way: its SSH connection, its identity (a rebuilt host gets everything
// again), and `deletedWith` its machine (when the host itself goes, undoing things on it is pointless,
// and impossible when it is stopped).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { renderInstallScript, restartHash } from "./files";
import { onlyOnHost } from "./shell";
import type { HostFile } from "./files";
import type { Host } from "./host";

export interface HostCommandArgs {
  /** Run once, when the resource is created (and again for a rebuilt host). */
  create: pulumi.Input<string>;
  /** Run when an input changes; without it a change runs `create` again. */
  update?: pulumi.Input<string>;
  /**
   * Run when the resource is deleted (not when the host goes: see the file comment; nor on a host rebuilt
   * since, see onlyOnHost).
   */
  delete?: pulumi.Input<string>;
  stdin?: pulumi.Input<string>;
  /** More values whose change re-creates the command, beside the host's identity. */
  triggers?: pulumi.Input<unknown>[];
  /** Not run again for a rebuilt host: what it did belongs to the host it ran on (a backup taken). */
  once?: boolean;
  logging?: "stdout" | "stderr" | "stdoutAndStderr" | "none";
}

/** Options of the things put on a host: the caller is the parent; dependsOn orders them. */
export interface OnHostOptions {
  parent: pulumi.Resource;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

function bound(host: Host, opts: OnHostOptions): pulumi.CustomResourceOptions {
  return { ...opts, ...(host.machine ? { deletedWith: host.machine } : {}) };
}

/** A command on the host, over its SSH connection. */
export function hostCommand(
  host: Host,
  name: string,
  args: HostCommandArgs,
  opts: OnHostOptions,
): command.remote.Command {
  const { triggers, once, delete: undo, ...rest } = args;
  return new command.remote.Command(
    name,
    {
      ...rest,
      // What a command bound to the host's identity undoes belongs to that host, not to a rebuilt one; a
      // command run `once` (on another host, for this one) undoes wherever it runs.
      ...(undo === undefined
        ? {}
        : { delete: once ? undo : pulumi.all([host.identity, undo]).apply(([id, u]) => onlyOnHost(id, u)) }),
      connection: host.connection,
      triggers: [...(once ? [] : [host.identity]), ...(triggers ?? [])],
    },
    bound(host, opts),
  );
}

/**
 * Files pushed to the host in one go, only those that changed; a changed `restart` file creates the
 * restart marker (see renderInstallScript); content travels on stdin. Nothing is removed when this goes: whoever owns the files removes them (a host that
 * is down must not block anything).
 */
export function pushFiles(
  host: Host,
  name: string,
  args: { files: pulumi.Input<HostFile[]>; restartMarker?: string; before?: string },
  opts: OnHostOptions,
): command.remote.Command {
  const { files, ...install } = args;
  const stdin = pulumi.output(files).apply((f) => renderInstallScript(f, install));
  return hostCommand(host, name, { create: "bash -s", stdin }, opts);
}

/**
 * A service run from pushed files: the files (`<name>-files`, the restart marker set when a restart file
 * changed), then the command that starts it or restarts it if marked (`<name>-start`); its command line
 * carries the restart files' hash, so a change of them runs it again. `stop` runs when it goes. `dependsOn`
 * orders the start, after the files (which land at once: a service reads them only when it starts).
 */
export function runFromFiles(
  host: Host,
  name: string,
  args: {
    files: pulumi.Output<HostFile[]>;
    restartMarker: string;
    start: (restartHash: string) => string;
    stop: string;
  },
  opts: OnHostOptions,
): { pushed: command.remote.Command; started: command.remote.Command } {
  const pushed = pushFiles(
    host,
    `${name}-files`,
    { files: args.files, restartMarker: args.restartMarker },
    { parent: opts.parent },
  );
  // A truncated hash reveals nothing of the key it covers: the command stays readable in the log.
  const start = pulumi.unsecret(args.files.apply((f) => args.start(restartHash(f))));
  const started = hostCommand(
    host,
    `${name}-start`,
    { create: start, update: start, delete: args.stop },
    { ...opts, dependsOn: [pushed, ...(opts.dependsOn ?? [])] },
  );
  return { pushed, started };
}

/** A directory of the workstation copied into `remoteDir` on the host, under its own name (rsync's rule). */
export function copyToHost(
  host: Host,
  name: string,
  args: { from: string; remoteDir: string; triggers?: pulumi.Input<unknown>[] },
  opts: OnHostOptions,
): command.remote.CopyToRemote {
  return new command.remote.CopyToRemote(
    name,
    {
      connection: host.connection,
      source: new pulumi.asset.FileArchive(args.from),
      remotePath: args.remoteDir,
      triggers: [host.identity, ...(args.triggers ?? [])],
    },
    bound(host, opts),
  );
}
