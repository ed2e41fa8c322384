# need_command <command> <debian package>: installs the package from Debian's registry when the
# command is missing (a fresh CI machine), as root or through sudo.
need_command() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}
