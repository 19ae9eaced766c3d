#!/bin/bash
# rwk-etcd: the membership steps of one etcd member, run on its own host by Pulumi (remote commands).
#
#   rwk-etcd join    --name N --peer-url U --endpoints E[,E...] [--learner] [--bootstrap]
#   rwk-etcd leave   --name N --endpoints E[,E...]    (on the member's own host: leave, stop, wipe)
#   rwk-etcd evict   --name N --endpoints E[,E...]    (on a surviving member's host: remove a member whose
#                                                     host is gone; nothing on that host is touched)
#   rwk-etcd restart --name N [--peer-url U] [--config H]
#                    (U: move the member's peer URL first, e.g. to https. With --config, restart only if a
#                    file etcd reads at start changed since it started or etcd is stopped; record H as what
#                    etcd runs)
#   rwk-etcd stop    --name N                   (stop etcd and keep it stopped; restart starts it again)
#   rwk-etcd backup  --id ID                    (snapshot + data-dir archive in /var/backups/rwk/ID)
#
# join --restore classic|snapshot --from DIR --cluster-token T starts the first member from a backup
# instead of an empty data dir (see cmd_join). An in-place restore of every member is two steps, so
# that the old cluster is stopped everywhere before any restored member starts:
#   rwk-etcd restore-prepare --name N --peer-url U --from DIR --initial-cluster N=U,... --cluster-token T
#   rwk-etcd restore-start --cluster-token T
#
# --endpoints are the client URLs of the *other* configured members. Every change is guarded: it is
# refused, with the numbers, when it would leave the cluster without a healthy quorum.
#
# The unit, the account and the release (unit, etcd_user, etcd_bin: where etcd, etcdctl and etcdutl are),
# paths and ports (data_dir, backups, restores, force_new_dropin, join_env, bootstrap_env, member_env,
# etcdctl_env, restart_pending, applied_config, client_port) are not set here: the program renders them from
# components/etcd/facts.ts in front of this body when it pushes the helper (renderHelperScript). The calls
# to systemd (unit_ctl, unit_active, unit_halt, unit_retire), retry and record_config come from
# components/host/rwk-unit.sh, rendered in after the facts.
# shellcheck disable=SC2154
set -euo pipefail

wait_seconds=${RWK_ETCD_WAIT:-90}
# Every data dir made from a snapshot starts this many revisions after it, its history marked compacted
# (etcd's restore for Kubernetes): clients such as a kubelet resume their watches at the revision they last
# saw, which a restore takes back; a watch ahead of etcd is accepted and silently skips every event until
# etcd gets there (a pod deleted meanwhile stays Terminating), while one behind a compaction is told to
# list again. A billion is more writes than any cluster here makes between a backup and its restore.
revision_bump=1000000000
# Client certificates (ETCDCTL_CACERT/CERT/KEY) once etcd has TLS; etcdctl ignores them for http URLs.
if [[ -r $etcdctl_env ]]; then
  set -a
  # shellcheck disable=SC1090
  . "$etcdctl_env"
  set +a
fi

log() { printf 'rwk-etcd: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
ctl() { "$etcd_bin/etcdctl" --dial-timeout=2s --command-timeout=5s "$@"; }
utl() { "$etcd_bin/etcdutl" "$@"; }
quorum() { echo $(($1 / 2 + 1)); }

# The local member answers on loopback over https once TLS is on and over http before: while a running
# cluster is being secured, both happen, so ask the member rather than the config.
local_ep() {
  local ep order=(https http)
  # The scheme the files configure is the likely one: asking the other first would cost a timeout.
  [[ -n ${ETCDCTL_CERT:-} ]] && grep -q '^ETCD_CERT_FILE=' "$member_env" 2>/dev/null || order=(http https)
  for ep in "${order[@]/%/://127.0.0.1:$client_port}"; do
    if ctl --dial-timeout=1s --command-timeout=2s --endpoints="$ep" endpoint status >/dev/null 2>&1; then
      echo "$ep"
      return 0
    fi
  done
  return 1
}

# reachable <endpoints>: those of the comma-separated endpoints that accept a TCP connection now, so
# that hosts without a member (or without a host) cost no client timeouts.
reachable() {
  local ep hostport out=()
  local -a eps
  IFS=, read -ra eps <<<"$1"
  for ep in "${eps[@]}"; do
    hostport=${ep#*://}
    if timeout 1 bash -c "exec 3<>/dev/tcp/${hostport%:*}/${hostport##*:}" 2>/dev/null; then out+=("$ep"); fi
  done
  local IFS=,
  echo "${out[*]}"
}

# members <endpoints>: "id name peer-urls client-urls is-learner" per member, tab-separated.
members() {
  ctl --endpoints="$1" member list -w simple | awk -F', ' '{print $1 "\t" $3 "\t" $4 "\t" $5 "\t" $6}'
}

# member_field <list> <name> <column>: one column (1 id, 3 peer URLs, 4 client URLs) of a named member
# in a list printed by members.
member_field() {
  awk -F'\t' -v n="$2" -v c="$3" '$2==n{print $c}' <<<"$1"
}

# voter_health <endpoints>: prints "<voters> <healthy voters>" of the cluster reachable at <endpoints>.
voter_health() {
  local list voters=0 healthy=0 url
  list=$(members "$1") || return 1
  while IFS=$'\t' read -r _ _ _ url learner; do
    [[ $learner == true ]] && continue
    voters=$((voters + 1))
    [[ -n $url ]] && ctl --endpoints="${url%%,*}" endpoint health >/dev/null 2>&1 && healthy=$((healthy + 1))
  done <<<"$list"
  echo "$voters $healthy"
}

# cluster_members <endpoints> / cluster_health <endpoints>: members and voter_health, retried within a
# bound: a member busy on a loaded host may miss one call, which must not end a join without a word.
cluster_members() { retry 30 "listing the members at $1" members "$1"; }
cluster_health() { retry 30 "asking the voting members at $1 for their health" voter_health "$1"; }

# remove_member <endpoints> <id>: `member remove`; a member that is already gone counts as removed (a
# retry after a reply that got lost).
remove_member() {
  local out
  out=$(ctl --endpoints="$1" member remove "$2" 2>&1) && return 0
  grep -q 'member not found' <<<"$out" && return 0
  printf '%s\n' "$out"
  return 1
}

start_etcd() {
  unit_ctl daemon-reload
  unit_ctl enable "$unit"
  # The unit is Type=notify and reports ready only with quorum: never block on it.
  unit_ctl start --no-block "$unit"
  # It starts with the files as they are now: no restart is due for them.
  rm -f "$restart_pending"
}

# wait_local [voter]: until the local member answers (`endpoint status` also answers on a learner,
# which refuses the health check's linearizable read); with "voter", until it also reaches a leader.
# Sets local_endpoint to the endpoint that answered.
wait_local() {
  local deadline=$((SECONDS + wait_seconds)) ep
  until ep=$(local_ep) && { [[ ${1:-} != voter ]] || ctl --endpoints="$ep" endpoint health >/dev/null 2>&1; }; do
    ((SECONDS < deadline)) || die "local etcd did not ${1:+reach a leader }within ${wait_seconds}s (journalctl -u $unit)"
    sleep 0.5
  done
  local_endpoint=$ep
}

wait_quorum() {
  local deadline=$((SECONDS + wait_seconds)) voters healthy
  while :; do
    read -r voters healthy < <(voter_health "$1" || echo "0 0")
    ((voters > 0 && healthy >= $(quorum "$voters"))) && return 0
    ((SECONDS < deadline)) || die "the cluster has $healthy healthy of $voters voting members, below quorum"
    sleep 1
  done
}

# manifest_field <dir> <jq path>: one value of a backup's manifest, e.g. `manifest_field DIR .status.revision`.
manifest_field() {
  jq -r "$2 // empty" "$1/manifest.json"
}

# status_field <endpoint> <field>: a field of `endpoint status -w fields` (ClusterID, Revision...), exactly
# as etcd prints it (JSON would round 64-bit IDs).
status_field() {
  ctl --endpoints="$1" endpoint status -w fields | awk -F' : ' -v f="\"$2\"" '$1==f {print $2; exit}'
}

# check_restored <dir>: the local member serves at least the backup's revision; a restore that did not
# happen (a wrong directory, an old data dir) fails here instead of reporting success.
check_restored() {
  local want got
  want=$(manifest_field "$1" .status.revision)
  got=$(status_field "$local_endpoint" Revision) || got=""
  if ! [[ $want =~ ^[0-9]+$ && $got =~ ^[0-9]+$ ]] || ((got < want)); then
    die "the restore did not take: the member serves revision ${got:-?}, the backup has ${want:-?}"
  fi
}

# verify_backup <dir> <file>: the file is there and is exactly what the backup recorded.
verify_backup() {
  local dir=$1 file=$2 want got
  [[ -f $dir/manifest.json ]] || die "backup $dir has no manifest.json"
  [[ -f $dir/$file ]] || die "backup $dir has no $file"
  want=$(manifest_field "$dir" ".[\"$file\"]")
  got=$(sha256sum "$dir/$file" | cut -d' ' -f1)
  [[ -n $want && $want == "$got" ]] ||
    die "backup $dir/$file fails its integrity check (sha256 $got, the manifest says ${want:-nothing}); refusing to restore from it"
  if [[ $file == snapshot.db ]]; then
    utl snapshot status "$dir/$file" >/dev/null 2>&1 ||
      die "backup $dir/$file is not a readable etcd snapshot; refusing to restore from it"
  fi
}

# restore_snapshot <name> <peer-url> <dir> <initial-cluster> <token>: a data dir made from the snapshot.
restore_snapshot() {
  local name=$1 peer_url=$2 dir=$3 cluster=$4 token=$5
  # Checked before etcd is stopped: a bad backup leaves the member running.
  verify_backup "$dir" snapshot.db
  unit_halt "$unit"
  rm -rf "$data_dir" "$join_env"
  utl snapshot restore "$dir/snapshot.db" --name "$name" \
    --initial-cluster "${cluster:-$name=$peer_url}" --initial-advertise-peer-urls "$peer_url" \
    --initial-cluster-token "$token" --data-dir "$data_dir" \
    --bump-revision "$revision_bump" --mark-compacted >/dev/null
  chown -R "$etcd_user:" "$data_dir"
}

# restore_first <method> <name> <peer-url> <dir> <token>: the first member of a new cluster, from a backup.
restore_first() {
  local method=$1 name=$2 peer_url=$3 dir=$4 token=$5
  case $method in
    snapshot)
      restore_snapshot "$name" "$peer_url" "$dir" "" "$token"
      start_etcd
      wait_local voter
      check_restored "$dir"
      log "$name restored from snapshot $(manifest_field "$dir" .id) as a new cluster of one"
      ;;
    classic)
      # The workshop's way: the data dir as it was, started once with force-new-cluster so that it
      # forgets the other members; the setting is a runtime drop-in, removed as soon as etcd runs.
      verify_backup "$dir" data-dir.tar.gz
      unit_halt "$unit"
      rm -rf "$data_dir"
      mkdir -p "$data_dir"
      tar -xzf "$dir/data-dir.tar.gz" -C "$data_dir"
      chown -R "$etcd_user:" "$data_dir"
      mkdir -p "${force_new_dropin%/*}"
      printf '[Service]\nEnvironment=ETCD_FORCE_NEW_CLUSTER=true\n' >"$force_new_dropin"
      start_etcd
      wait_local voter
      check_restored "$dir"
      rm -f "$force_new_dropin"
      unit_ctl daemon-reload
      local here=$local_endpoint list id current
      list=$(members "$here")
      id=$(member_field "$list" "$name" 1)
      current=$(member_field "$list" "$name" 3)
      if [[ $current != "$peer_url" ]]; then
        retry 30 "member update" ctl --endpoints="$here" member update "$id" --peer-urls="$peer_url" >/dev/null
      fi
      log "$name restored from the data-dir archive of $(manifest_field "$dir" .id) with force-new-cluster, now removed"
      ;;
    *) die "unknown restore method $method" ;;
  esac
}

cmd_restore_prepare() {
  local name="" peer_url="" from="" cluster="" token=""
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      --peer-url) peer_url=$2; shift 2 ;;
      --from) from=$2; shift 2 ;;
      --initial-cluster) cluster=$2; shift 2 ;;
      --cluster-token) token=$2; shift 2 ;;
      *) die "restore-prepare: unknown argument $1" ;;
    esac
  done
  [[ -n $name && -n $peer_url && -n $from && -n $cluster && -n $token ]] || die "restore-prepare: missing arguments"
  # What restore-start checks against: the cluster this restore replaces, and the backup's revision.
  local old="" here revision
  if here=$(local_ep); then old=$(status_field "$here" ClusterID) || old=""; fi
  restore_snapshot "$name" "$peer_url" "$from" "$cluster" "$token"
  revision=$(manifest_field "$from" .status.revision)
  [[ $revision =~ ^[0-9]+$ ]] || die "backup $from records no snapshot revision"
  mkdir -p "$restores"
  printf '%s %s\n' "${old:-none}" "$revision" >"$restores/$token.prepared"
  log "$name stopped, its data dir restored from $(manifest_field "$from" .id); it starts with the others"
}

cmd_restore_start() {
  local token=""
  while (($#)); do
    case $1 in
      --cluster-token) token=$2; shift 2 ;;
      *) die "restore-start: unknown argument $1" ;;
    esac
  done
  local marker=$restores/$token.prepared old want id rev
  [[ -n $token && -f $marker ]] || die "restore-start: restore ${token:-?} was not prepared on this host"
  read -r old want <"$marker"
  start_etcd
  # etcd serves clients only once the new cluster has quorum: every member starts at the same time.
  wait_local voter
  wait_quorum "$local_endpoint"
  id=$(status_field "$local_endpoint" ClusterID) || id=""
  rev=$(status_field "$local_endpoint" Revision) || rev=""
  [[ $id != "$old" ]] || die "the restore did not take: the member still belongs to cluster $old"
  if ! [[ $rev =~ ^[0-9]+$ ]] || ((rev < want)); then
    die "the restore did not take: the member serves revision ${rev:-?}, the backup has $want"
  fi
  log "restored member running in new cluster $id at revision $rev; the new cluster has quorum"
}

cmd_backup() {
  local id=""
  while (($#)); do
    case $1 in
      --id) id=$2; shift 2 ;;
      *) die "backup: unknown argument $1" ;;
    esac
  done
  [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "backup needs --id"
  local dir=$backups/$id here name taken stamp status from voters healthy me=0
  if [[ -f $dir/manifest.json ]]; then
    cat "$dir/manifest.json"
    return 0
  fi
  here=$(local_ep) || die "no local etcd to back up"
  name=$(sed -n 's/^ETCD_NAME=//p' "$member_env")
  rm -rf "$dir.tmp"
  mkdir -p "$backups"
  mkdir -m 0700 "$dir.tmp"
  taken=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  stamp=$(date -u -d "$taken" +%Y%m%dT%H%M%SZ)
  ctl --command-timeout=60s --endpoints="$here" snapshot save "$dir.tmp/snapshot.db" >/dev/null
  status=$(utl snapshot status "$dir.tmp/snapshot.db" -w json) ||
    die "the snapshot just taken does not pass etcdctl snapshot status"
  # The classic archive is only consistent if etcd is not writing: stop this member for it when the
  # others hold quorum meanwhile. Otherwise (one member, or no quorum without this one) stopping it would
  # stop the cluster, and a live data directory changes under tar (tar fails, or archives bbolt pages
  # mid-write): the archive is made from the snapshot instead, `etcdutl snapshot restore` writing this
  # member's data directory as of the snapshot.
  read -r voters healthy < <(voter_health "$here")
  ctl --endpoints="$here" endpoint health >/dev/null 2>&1 && me=1
  if ((voters > 1 && healthy - me >= $(quorum "$voters"))); then
    unit_halt "$unit"
    tar -C "$data_dir" -czf "$dir.tmp/data-dir.tar.gz" member
    start_etcd
    wait_local voter
    from="stopped member"
  else
    local peer
    peer=$(member_field "$(members "$here")" "$name" 3)
    peer=${peer%%,*}
    utl snapshot restore "$dir.tmp/snapshot.db" --data-dir "$dir.tmp/data" --name "$name" \
      --initial-cluster "$name=$peer" --initial-advertise-peer-urls "$peer" \
      --bump-revision "$revision_bump" --mark-compacted >/dev/null 2>&1 ||
      die "etcdutl snapshot restore of the snapshot just taken failed"
    tar -C "$dir.tmp/data" -czf "$dir.tmp/data-dir.tar.gz" member
    rm -rf "$dir.tmp/data"
    from=snapshot
  fi
  {
    printf '{\n  "id": "%s",\n  "member": "%s",\n  "takenAt": "%s",\n  "stamp": "%s",\n' "$id" "$name" "$taken" "$stamp"
    printf '  "status": %s,\n  "dataDirConsistent": true,\n  "dataDirFrom": "%s",\n' "$status" "$from"
    printf '  "snapshot.db": "%s",\n' "$(sha256sum "$dir.tmp/snapshot.db" | cut -d' ' -f1)"
    printf '  "data-dir.tar.gz": "%s"\n}\n' "$(sha256sum "$dir.tmp/data-dir.tar.gz" | cut -d' ' -f1)"
  } >"$dir.tmp/manifest.json"
  mv "$dir.tmp" "$dir"
  cat "$dir/manifest.json"
}

cmd_join() {
  local name="" peer_url="" endpoints="" learner=false bootstrap=false
  local restore="" from="" token=""
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      --peer-url) peer_url=$2; shift 2 ;;
      --endpoints) endpoints=$2; shift 2 ;;
      --learner) learner=true; shift ;;
      --bootstrap) bootstrap=true; shift ;;
      --restore) restore=$2; shift 2 ;;
      --from) from=$2; shift 2 ;;
      --cluster-token) token=$2; shift 2 ;;
      *) die "join: unknown argument $1" ;;
    esac
  done
  [[ -n $name && -n $peer_url ]] || die "join needs --name and --peer-url"

  # Already joined: our data dir, and the member answering locally is this one at this peer URL.
  local here
  if [[ -d $data_dir/member ]] && here=$(local_ep) &&
    members "$here" 2>/dev/null | awk -F'\t' -v n="$name" -v u="$peer_url" '$2==n && $3==u {f=1} END{exit !f}'; then
    # A restore over a member that serves its data would quietly restore nothing.
    [[ -z $restore ]] ||
      die "$name is a running member with its data: a $restore restore starts from a lost member (its host destroyed, or etcd stopped and its data gone); to replace a running cluster's data use the in-place method"
    log "$name is already a member; nothing to do"
    unit_ctl enable "$unit"
    return 0
  fi

  # Half-joined data (an earlier join that failed, a member removed while its host was down) must not
  # survive, or this host silently stays a cluster alone or rejoins as a member the cluster removed.
  unit_halt "$unit"
  rm -rf "$data_dir" "$join_env"

  endpoints=$(reachable "$endpoints")
  if [[ -z $endpoints ]] || ! members "$endpoints" >/dev/null 2>&1; then
    $bootstrap || die "no member of the cluster answers at ${endpoints:-<none>}; refusing to start a second cluster"
    if [[ -n $restore ]]; then
      restore_first "$restore" "$name" "$peer_url" "$from" "$token"
      return 0
    fi
    log "no cluster answers: bootstrapping $name as a new one-member cluster"
    cp "$bootstrap_env" "$join_env"
    start_etcd
    wait_local voter
    here=$local_endpoint
    local id
    id=$(member_field "$(members "$here")" "$name" 1)
    # The workshop's next step: move the peer URL from localhost to the host's address.
    retry 30 "member update" ctl --endpoints="$here" member update "$id" --peer-urls="$peer_url" >/dev/null
    log "$name bootstrapped; peer URL is now $peer_url"
    return 0
  fi

  local voters healthy need stale
  # A member of this name or peer URL that is still listed is this host's dead predecessor (the host was
  # rebuilt): take its place, as the workshop did by hand after losing core-01.
  local list vh
  list=$(cluster_members "$endpoints")
  stale=$(awk -F'\t' -v n="$name" -v u="$peer_url" '$2==n || $3==u {print $1 "\t" $4}' <<<"$list")
  if [[ -n $stale ]]; then
    local sid surl
    IFS=$'\t' read -r sid surl <<<"$stale"
    if [[ -n $surl ]] && ctl --endpoints="${surl%%,*}" endpoint health >/dev/null 2>&1; then
      die "a healthy member with name $name or peer URL $peer_url already exists elsewhere; refusing to replace it"
    fi
    vh=$(cluster_health "$endpoints")
    read -r voters healthy <<<"$vh"
    need=$(quorum $((voters - 1)))
    ((healthy >= need)) ||
      die "refusing to replace the dead member $name: $healthy of $voters voting members are healthy, $need needed"
    retry 30 "member remove" remove_member "$endpoints" "$sid" >/dev/null
    log "removed the dead member $name ($sid) that this host replaces"
  fi
  vh=$(cluster_health "$endpoints")
  read -r voters healthy <<<"$vh"
  # A learner holds no vote: adding it needs today's quorum. A voter counts at once but is not up yet.
  if $learner; then need=$(quorum "$voters"); else need=$(quorum $((voters + 1))); fi
  ((healthy >= need)) ||
    die "refusing to add $name: $healthy of $voters voting members are healthy and the change needs $need"

  local out add_flags=(--peer-urls="$peer_url")
  $learner && add_flags+=(--learner)
  out=$(retry 60 "member add" ctl --endpoints="$endpoints" member add "$name" "${add_flags[@]}")
  # `member add` prints exactly how the new member must start (INITIAL_CLUSTER, state "existing"...).
  grep '^ETCD_' <<<"$out" | sed 's/"//g' >"$join_env"
  grep -q '^ETCD_INITIAL_ADVERTISE_PEER_URLS=' "$join_env" || die "member add printed no start settings: $out"
  start_etcd
  wait_local
  if $learner; then
    local id
    list=$(cluster_members "$endpoints")
    id=$(member_field "$list" "$name" 1)
    [[ -n $id ]] || die "$name is not in the member list after member add: $list"
    # etcd refuses to promote a learner until it has caught up with the leader.
    retry "$wait_seconds" "member promote" ctl --endpoints="$endpoints" member promote "$id" >/dev/null
    log "$name joined as a learner and was promoted"
  else
    log "$name joined as a voting member"
  fi
  wait_local voter
  wait_quorum "$endpoints"
}

# remove_from_cluster <name> <endpoints> [<ask>]: removes the named member from the cluster answering at
# <endpoints> (asking <ask> to remove it, default the same), unless the voting members left would be below
# a healthy quorum. Sets `removal` to removed, absent (not a member, or no more) or last (the only
# member: there is nothing to remove it from).
remove_from_cluster() {
  local name=$1 all=$2 ask=${3:-$2} list id voters healthy me_healthy=0 url need
  list=$(members "$all") || die "cannot reach the cluster at $all to remove $name"
  id=$(member_field "$list" "$name" 1)
  url=$(member_field "$list" "$name" 4)
  if [[ -z $id ]]; then
    removal=absent
    return
  fi
  if [[ $(grep -c . <<<"$list") -le 1 ]]; then
    removal=last
    return
  fi
  local vh
  vh=$(cluster_health "$all")
  read -r voters healthy <<<"$vh"
  [[ -n $url ]] && ctl --endpoints="${url%%,*}" endpoint health >/dev/null 2>&1 && me_healthy=1
  need=$(quorum $((voters - 1)))
  ((healthy - me_healthy >= need)) ||
    die "refusing to remove $name: the $((voters - 1)) remaining voting members would have $((healthy - me_healthy)) healthy, below quorum $need"
  retry 30 "member remove" remove_member "$ask" "$id" >/dev/null
  removal=removed
}

# member_args <verb> <args...>: the --name N --endpoints E of leave and evict, into name and endpoints.
member_args() {
  local verb=$1
  shift
  name="" endpoints=""
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      --endpoints) endpoints=$2; shift 2 ;;
      *) die "$verb: unknown argument $1" ;;
    esac
  done
  [[ -n $name ]] || die "$verb needs --name"
}

cmd_leave() {
  local name endpoints here all removal=absent
  member_args leave "$@"
  here=$(local_ep) || here=""
  endpoints=$(reachable "$endpoints")
  all=$here${here:+${endpoints:+,}}$endpoints
  if [[ -n $all ]] && members "$all" >/dev/null 2>&1; then
    # Asked of the others when they answer: the member stops as soon as it learns it was removed, which
    # can cut off its own reply, and the retry then finds it gone (a CI run failed on that).
    remove_from_cluster "$name" "$all" "${endpoints:-$all}"
  elif [[ -d $data_dir ]]; then
    die "cannot reach the cluster at ${all:-<none>} to remove $name; refusing to wipe its data"
  fi
  unit_retire "$unit"
  case $removal in
    last)
      # The cluster ends with its last member; its data is kept, never deleted by a config change.
      local kept
      kept=$data_dir.ended-$(date -u +%Y%m%dT%H%M%SZ)
      [[ -d $data_dir ]] && mv "$data_dir" "$kept"
      rm -f "$join_env"
      log "$name was the last member: the cluster ended with it; its data directory is kept at $kept"
      ;;
    removed)
      # Only after the cluster has let the member go: wipe it, so it can never come back as itself.
      rm -rf "$data_dir" "$join_env"
      log "$name removed from the cluster, stopped and wiped"
      ;;
    absent)
      rm -rf "$data_dir" "$join_env"
      log "$name is not a member (any more); stopped and wiped"
      ;;
  esac
}

cmd_evict() {
  local name endpoints here all removal
  member_args evict "$@"
  here=$(local_ep) || die "no local etcd member here to remove $name through"
  endpoints=$(reachable "$endpoints")
  all=$here${endpoints:+,$endpoints}
  remove_from_cluster "$name" "$all"
  case $removal in
    removed) log "$name removed from the cluster by the surviving members; its host is not touched" ;;
    absent) log "$name is not a member (any more)" ;;
    last) die "$name is the only member: there is no cluster left to remove it from" ;;
  esac
}

cmd_restart() {
  local name="" peer_url="" config=""
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      --peer-url) peer_url=$2; shift 2 ;;
      --config) config=$2; shift 2 ;;
      *) die "restart: unknown argument $1" ;;
    esac
  done
  [[ -n $name ]] || die "restart needs --name"
  # Pushing a changed file that etcd reads only at start leaves restart_pending behind (see the install
  # script); without it etcd already runs its files: just started by join, or nothing it reads changed.
  # A member that was stopped on purpose (stop) starts again with its files as they are.
  if [[ -n $config && ! -e $restart_pending ]] && unit_active "$unit"; then
    record_config "$applied_config" "$config"
    log "$name already runs its configuration ($config); no restart"
    return 0
  fi
  local here voters healthy me=0 list
  if here=$(local_ep) && read -r voters healthy < <(voter_health "$here"); then
    ctl --endpoints="$here" endpoint health >/dev/null 2>&1 && me=1
    # Restarting a member costs its vote for a moment: the others alone must hold quorum.
    ((healthy - me >= $(quorum "$voters") || voters == 1)) ||
      die "refusing to restart $name: only $((healthy - me)) other voting members of $voters are healthy"
    list=$(members "$here")
    local id current
    id=$(member_field "$list" "$name" 1)
    current=$(member_field "$list" "$name" 3)
    if [[ -n $peer_url && -n $id && $current != "$peer_url" ]]; then
      # The peers dial the new URL from now on; until the restart below makes this member listen on it,
      # it is cut off, which the check above has shown the cluster can afford.
      retry 30 "member update" ctl --endpoints="$here" member update "$id" --peer-urls="$peer_url" >/dev/null
      log "$name: peer URL $current → $peer_url"
    fi
  fi
  unit_ctl daemon-reload
  unit_ctl enable --quiet "$unit"
  unit_ctl restart --no-block "$unit"
  rm -f "$restart_pending"
  wait_local voter
  wait_quorum "$local_endpoint"
  if [[ -n $config ]]; then record_config "$applied_config" "$config"; fi
  log "$name restarted${config:+ with configuration $config} and the cluster has quorum"
}

# stop --name N: stops the member's etcd and keeps it stopped across boots (etcdMemberStates: stopped);
# restart starts it again. Its data and its membership stay.
cmd_stop() {
  local name=""
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      *) die "stop: unknown argument $1" ;;
    esac
  done
  [[ -n $name ]] || die "stop needs --name"
  unit_retire "$unit"
  log "$name stopped (its data and membership kept)"
}

case ${1:-} in
  join | leave | evict | restart | stop | backup | restore-prepare | restore-start)
    verb=${1//-/_}
    shift
    "cmd_$verb" "$@"
    ;;
  *) die "usage: rwk-etcd join|leave|evict|restart|stop|backup|restore-prepare|restore-start ... (see the header of $0)" ;;
esac
