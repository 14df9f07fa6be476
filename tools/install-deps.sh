#!/bin/sh
# Install the Debian 12 packages rpr needs to build, test and run its main
# job.  Run as root; does nothing when everything is already there.
#   tools/install-deps.sh          build + test + main job
set -eu

pkgs="build-essential autoconf automake libtool pkg-config
libopenblas-dev liblapacke-dev libxml2-dev libxml2-utils libfftw3-dev
xz-utils clang-format gnuplot-nox librsvg2-bin psi4 xtb python3-numpy"

missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages:$missing" >&2
    echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
