#!/bin/sh
# Reference-data pipeline for 1,2-dichloroethane: xtb sampling, psi4
# labelling, collection.  See README.md here; the work is done by driver.py.
#   generate.sh run     [--workdir D] [--workers N] [--target N] [options]
#   generate.sh collect [--workdir D] [--outdir D]
#   generate.sh status  [--workdir D]
#   generate.sh --help
here=$(cd "$(dirname "$0")" && pwd) || exit 1

# psi4 names the interpreter and module path it was built for (Debian:
# /usr/bin/python3 with psi4 under /usr/lib/x86_64-linux-gnu).
# Its output ends PYTHONPATH with ':' when it was empty, which would put
# the current directory on the path; drop that.
if command -v psi4 >/dev/null 2>&1; then
    eval "$(psi4 --psiapi-path)"
    PYTHONPATH=${PYTHONPATH%:}
fi
# One thread per worker process; --workers sets the parallelism.
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# No __pycache__ next to the scripts (the source tree may be read-only).
PYTHONDONTWRITEBYTECODE=1
export OMP_NUM_THREADS MKL_NUM_THREADS OPENBLAS_NUM_THREADS
export PYTHONDONTWRITEBYTECODE
exec "${PYTHON:-python3}" "$here/driver.py" "$@"
