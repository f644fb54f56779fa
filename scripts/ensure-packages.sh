#!/usr/bin/env bash
# Installs the Debian packages named as arguments if any is missing (tests and .ci/run call this,
# so nothing depends on what someone installed by hand). Runs `apt-get update` at most once per boot.
# Exit status: 0 when all are present afterwards; 2 when some are missing and we are not root.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "kcap: missing Debian packages ${missing[*]} and not root to install them" >&2
  exit 2
fi
stamp=/run/kcap-apt-updated
if [ ! -e "$stamp" ]; then
  apt-get update -qq >&2
  touch "$stamp"
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
