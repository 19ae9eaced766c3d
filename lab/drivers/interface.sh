# shellcheck shell=bash
# The command line every lab driver (machines.sh, vagrant.sh) implements, with the arity of each command:
# the Pulumi dynamic resources call any driver the same way. Sourced by the drivers, which define usage,
# die, use_host, host_status, set_link and the cmd_* functions; a driver's own extra commands are
# functions named driver_extra_<command>, given all the command's arguments.
#
#   driver_main <why root is needed> <command> <args...>
driver_main() {
  local why=$1
  shift
  (($# >= 2)) || usage
  local cmd=$1
  shift
  ((EUID == 0)) || die "must run as root ($why)"
  case $cmd in
    switch-up) (($# <= 4)) || usage; cmd_switch_up "" "$@" ;;
    switch-adopt) (($# == 3 || $# == 4)) || usage; cmd_switch_up adopt "$@" ;;
    switch-down) (($# <= 2)) || usage; cmd_switch_down "$@" ;;
    switch-status) (($# <= 2)) || usage; cmd_switch_status "$@" ;;
    create) (($# == 4 || $# == 5)) || usage; cmd_create "$@" ;;
    start) (($# == 2)) || usage; cmd_start "$@" ;;
    stop) (($# == 2)) || usage; cmd_stop "$@" ;;
    destroy) (($# == 2)) || usage; cmd_destroy "$@" ;;
    status) (($# == 2)) || usage; use_host "$@"; host_status ;;
    info) (($# == 2)) || usage; cmd_info "$@" ;;
    kill) (($# == 2)) || usage; cmd_kill "$@" ;;
    cut) (($# == 2)) || usage; use_host "$@"; set_link down ;;
    heal) (($# == 2)) || usage; use_host "$@"; set_link up ;;
    forward-up) (($# == 4 || $# == 5)) || usage; cmd_forward_up "$@" ;;
    forward-down) (($# == 2)) || usage; cmd_forward_down "$@" ;;
    forward-status) (($# == 2)) || usage; cmd_forward_status "$@" ;;
    exec) cmd_exec "$@" ;;
    list) (($# == 1)) || usage; cmd_list "$@" ;;
    *)
      declare -F "driver_extra_$cmd" >/dev/null || usage
      "driver_extra_$cmd" "$@"
      ;;
  esac
}
