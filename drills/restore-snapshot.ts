import {
  checkRestored,
  corruptedBackupRefused,
  destroyAll,
  recoveryDrill,
  regrow,
  takeBackup,
  threeMembers,
} from "./recovery";

/** The safe modern path: `etcdctl snapshot restore` into a new cluster of one, then regrow. */
export const restoreSnapshot = recoveryDrill(
  "restore-snapshot",
  "restore (snapshot): a new cluster of one from the snapshot",
  (t) => [
    threeMembers(t),
    takeBackup(t),
    destroyAll(t),
    corruptedBackupRefused(t),
    {
      title: "restore the snapshot on a fresh core-01 as a new cluster of one",
      set: () => ({ "hostStates.core-01": "running", restore: { from: t.backupDir, method: "snapshot" } }),
      check: (ctx, step) => checkRestored(ctx, step, t, ["core-01"]),
    },
    regrow(t, true),
  ],
);
