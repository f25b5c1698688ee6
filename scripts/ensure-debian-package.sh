#!/usr/bin/env bash
# ensure-debian-package.sh PATH PACKAGE: install Debian's PACKAGE when PATH is missing.
# As root it runs apt-get; otherwise it stops with one line saying the command to run.
set -euo pipefail
path="${1:-}"
package="$2"
if [[ -n "$path" && -e "$path" ]]; then
    exit 0
fi
if [[ "$(id -u)" != "0" ]]; then
    echo "error: Debian's $package is missing; run: sudo apt-get update && sudo apt-get install -y $package" >&2
    exit 1
fi
echo "installing Debian's $package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$package" >/dev/null
