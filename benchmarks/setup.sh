#!/usr/bin/env bash
# Create the isolated venvs of the benchmarks: DVC (art vs DVC), art itself as users install it, ZenML (Python
# pipelines, python_pipeline.py); never in art's own environment.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${DVC_VENV:-$here/.venv-dvc}"
python="${PYTHON:-python3}"

# pip, minus the noise about configured local indexes that do not exist on this machine.
pip_install() {
    "$venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
pip_install --upgrade pip
if ! pip_install 'dvc==3.67.*'; then
    echo "setup.sh: dvc==3.67.* unavailable; installing the newest dvc 3.x" >&2
    pip_install 'dvc>=3,<4'
fi
"$venv/bin/dvc" --version
echo "DVC ready: $venv/bin/dvc"

# art as users get it: a regular (non-editable) install of this checkout in its own venv, so neither tool
# pays for a development-mode import hook
art_venv="${ART_VENV:-$here/.venv-art}"
if [ ! -x "$art_venv/bin/python" ]; then
    "$python" -m venv "$art_venv"
fi
"$art_venv/bin/python" -m pip install --quiet --upgrade "$here/.." 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
"$art_venv/bin/art" --version
echo "art ready: $art_venv/bin/art"
# numpy for the Python-pipeline benchmark (python_pipeline.py), whose steps pass numpy arrays
"$art_venv/bin/python" -m pip install --quiet numpy 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)

# ZenML for the Python-pipeline benchmark, in its own venv: the local SQLite store needs the `local` extra
zenml_venv="${ZENML_VENV:-$here/.venv-zenml}"
if [ ! -x "$zenml_venv/bin/python" ]; then
    "$python" -m venv "$zenml_venv"
fi
zenml_install() {
    "$zenml_venv/bin/python" -m pip install --quiet "$@" numpy 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}
if ! zenml_install 'zenml[local]==0.98.*'; then
    echo "setup.sh: zenml==0.98.* unavailable; installing the newest zenml" >&2
    zenml_install 'zenml[local]'
fi
"$zenml_venv/bin/python" -c 'import importlib.metadata as m; print("zenml", m.version("zenml"))'
echo "ZenML ready: $zenml_venv/bin/python"
