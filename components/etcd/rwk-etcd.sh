#!/bin/bash
# rwk-etcd: the membership steps of one etcd member, run on its own host by Pulumi (remote commands).
#
#   rwk-etcd join    --name N --peer-url U --endpoints E[,E...] [--learner] [--bootstrap]
#   rwk-etcd leave   --name N --endpoints E[,E...]
#   rwk-etcd restart --name N
#
# --endpoints are the client URLs of the *other* configured members. Every change is guarded: it is
# refused, with the numbers, when it would leave the cluster without a healthy quorum.
set -euo pipefail

data_dir=/var/lib/etcd/rwk
join_env=/etc/etcd/rwk-join.env
bootstrap_env=/etc/etcd/rwk-bootstrap.env
local_ep=http://127.0.0.1:2379
wait_seconds=${RWK_ETCD_WAIT:-90}
# Client TLS settings (ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY, local endpoint) once etcd is secured.
if [[ -r /etc/etcd/etcdctl.env ]]; then
  set -a
  # shellcheck disable=SC1091
  . /etc/etcd/etcdctl.env
  set +a
  local_ep=${RWK_LOCAL_ENDPOINT:-$local_ep}
fi

log() { printf 'rwk-etcd: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
ctl() { ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s "$@"; }
quorum() { echo $(($1 / 2 + 1)); }

# members <endpoints>: "id name peer-urls client-urls is-learner" per member, tab-separated.
members() {
  ctl --endpoints="$1" member list -w simple | awk -F', ' '{print $1 "\t" $3 "\t" $4 "\t" $5 "\t" $6}'
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

# retry <seconds> <what> <command...>: bounded retry, for steps etcd refuses while it settles.
retry() {
  local deadline=$((SECONDS + $1)) what=$2 out
  shift 2
  until out=$("$@" 2>&1); do
    ((SECONDS < deadline)) || die "$what did not succeed within the bound: $out"
    sleep 1
  done
  printf '%s\n' "$out"
}

start_etcd() {
  systemctl daemon-reload
  systemctl enable etcd >/dev/null 2>&1
  # etcd.service is Type=notify and reports ready only with quorum: never block on it.
  systemctl start --no-block etcd
}

wait_local() {
  local deadline=$((SECONDS + wait_seconds))
  # `endpoint status` also answers on a learner, which refuses the health check's linearizable read.
  until ctl --endpoints="$local_ep" endpoint status >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "local etcd did not answer within ${wait_seconds}s (journalctl -u etcd)"
    sleep 0.5
  done
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

cmd_join() {
  local name="" peer_url="" endpoints="" learner=false bootstrap=false
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      --peer-url) peer_url=$2; shift 2 ;;
      --endpoints) endpoints=$2; shift 2 ;;
      --learner) learner=true; shift ;;
      --bootstrap) bootstrap=true; shift ;;
      *) die "join: unknown argument $1" ;;
    esac
  done
  [[ -n $name && -n $peer_url ]] || die "join needs --name and --peer-url"

  if ctl --endpoints="$local_ep" endpoint status >/dev/null 2>&1 &&
    members "$local_ep" 2>/dev/null | awk -F'\t' -v n="$name" '$2==n{f=1} END{exit !f}'; then
    log "$name is already a member; nothing to do"
    systemctl enable etcd >/dev/null 2>&1
    return 0
  fi

  # Debian's etcd.service may have started at boot with its defaults as a one-member cluster of its own;
  # that cluster and any half-joined data must not survive, or this host silently stays a cluster alone.
  systemctl stop etcd 2>/dev/null || true
  rm -rf /var/lib/etcd/default "$data_dir" "$join_env"

  if [[ -z $endpoints ]] || ! members "$endpoints" >/dev/null 2>&1; then
    $bootstrap || die "no member of the cluster answers at ${endpoints:-<none>}; refusing to start a second cluster"
    log "no cluster answers: bootstrapping $name as a new one-member cluster"
    cp "$bootstrap_env" "$join_env"
    start_etcd
    wait_local
    local id
    id=$(members "$local_ep" | awk -F'\t' -v n="$name" '$2==n{print $1}')
    # The workshop's next step: move the peer URL from localhost to the host's address.
    retry 30 "member update" ctl --endpoints="$local_ep" member update "$id" --peer-urls="$peer_url" >/dev/null
    log "$name bootstrapped; peer URL is now $peer_url"
    return 0
  fi

  local voters healthy need stale
  # A member of this name or peer URL that is still listed is this host's dead predecessor (the host was
  # rebuilt): take its place, as the workshop did by hand after losing core-01.
  stale=$(members "$endpoints" | awk -F'\t' -v n="$name" -v u="$peer_url" '$2==n || $3==u {print $1 "\t" $4}')
  if [[ -n $stale ]]; then
    local sid surl
    IFS=$'\t' read -r sid surl <<<"$stale"
    if [[ -n $surl ]] && ctl --endpoints="${surl%%,*}" endpoint health >/dev/null 2>&1; then
      die "a healthy member with name $name or peer URL $peer_url already exists elsewhere; refusing to replace it"
    fi
    read -r voters healthy < <(voter_health "$endpoints")
    need=$(quorum $((voters - 1)))
    ((healthy >= need)) ||
      die "refusing to replace the dead member $name: $healthy of $voters voting members are healthy, $need needed"
    retry 30 "member remove" ctl --endpoints="$endpoints" member remove "$sid" >/dev/null
    log "removed the dead member $name ($sid) that this host replaces"
  fi
  read -r voters healthy < <(voter_health "$endpoints")
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
    id=$(members "$endpoints" | awk -F'\t' -v n="$name" '$2==n{print $1}')
    # etcd refuses to promote a learner until it has caught up with the leader.
    retry "$wait_seconds" "member promote" ctl --endpoints="$endpoints" member promote "$id" >/dev/null
    log "$name joined as a learner and was promoted"
  else
    log "$name joined as a voting member"
  fi
  wait_quorum "$endpoints,$local_ep"
}

cmd_leave() {
  local name="" endpoints=""
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      --endpoints) endpoints=$2; shift 2 ;;
      *) die "leave: unknown argument $1" ;;
    esac
  done
  [[ -n $name ]] || die "leave needs --name"
  local all=$local_ep${endpoints:+,$endpoints} list
  if list=$(members "$all" 2>/dev/null); then
    local id voters healthy me_healthy=0 url
    id=$(awk -F'\t' -v n="$name" '$2==n{print $1}' <<<"$list")
    url=$(awk -F'\t' -v n="$name" '$2==n{print $4}' <<<"$list")
    if [[ -n $id && $(grep -c . <<<"$list") -gt 1 ]]; then
      read -r voters healthy < <(voter_health "$all")
      [[ -n $url ]] && ctl --endpoints="${url%%,*}" endpoint health >/dev/null 2>&1 && me_healthy=1
      local need
      need=$(quorum $((voters - 1)))
      ((healthy - me_healthy >= need)) ||
        die "refusing to remove $name: the $((voters - 1)) remaining voting members would have $((healthy - me_healthy)) healthy, below quorum $need"
      retry 30 "member remove" ctl --endpoints="$all" member remove "$id" >/dev/null
      log "$name removed from the cluster"
    elif [[ -z $id ]]; then
      log "$name is not a member (any more)"
    else
      log "$name is the last member: the cluster ends with it"
    fi
  elif [[ -d $data_dir ]]; then
    die "cannot reach the cluster at $all to remove $name; refusing to wipe its data"
  fi
  # Only after the cluster has let the member go: stop it and wipe it, so it can never come back as itself.
  systemctl disable --now etcd >/dev/null 2>&1 || true
  rm -rf "$data_dir" "$join_env"
}

cmd_restart() {
  local name=""
  while (($#)); do
    case $1 in
      --name) name=$2; shift 2 ;;
      *) die "restart: unknown argument $1" ;;
    esac
  done
  local voters healthy me=0
  if read -r voters healthy < <(voter_health "$local_ep" 2>/dev/null); then
    ctl --endpoints="$local_ep" endpoint health >/dev/null 2>&1 && me=1
    # Restarting a member costs its vote for a moment: the others alone must hold quorum.
    ((healthy - me >= $(quorum "$voters") || voters == 1)) ||
      die "refusing to restart ${name:-this member}: only $((healthy - me)) other voting members of $voters are healthy"
  fi
  systemctl daemon-reload
  systemctl restart --no-block etcd
  wait_local
  wait_quorum "$local_ep"
  log "${name:-member} restarted and the cluster has quorum"
}

case ${1:-} in
  join | leave | restart)
    verb=$1
    shift
    "cmd_$verb" "$@"
    ;;
  *) die "usage: rwk-etcd join|leave|restart ... (see the header of $0)" ;;
esac
