#!/bin/sh
# Build rpr out of tree in _build/ and run the whole test suite.
# The README's test command: sh test.sh
set -eu
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
sh tools/install-deps.sh
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
    autoreconf -fi
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure
make -j2
status=0
make -j2 check || status=$?
# automake prints "# PASS: N" etc.; turn that into one plain closing line.
if [ -f test-suite.log ]; then
    awk '/^# PASS:/ {p = $3} /^# (FAIL|XPASS|ERROR):/ {f += $3}
         /^# (SKIP|XFAIL):/ {s += $3}
         END {printf "%d passed, %d failed, %d skipped\n", p, f, s}' test-suite.log
    [ "$status" -eq 0 ] || grep -E '^(FAIL|ERROR):' test-suite.log >&2 || true
else
    echo "0 passed, 1 failed"
fi
exit "$status"
