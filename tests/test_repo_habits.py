import email
import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SKIP_DIRS = {".git", ".venv", ".venv-dvc", ".venv-art", "__pycache__", "build", "dist", ".art"}

# Documents that lived next to the repository while it was young; the repository must not depend on them.
OUTSIDE = re.compile(
    r"\.\./shared\b|\bshared[/](?:DESIGN|STYLE|TESTING-BUCKETS|hooks|research)\b"
    r"|\b(?:DESIGN|STYLE|TESTING-BUCKETS)\.md\b"
)

# The opening lines of the standard text of each license the metadata may name (SPDX id -> lines).
LICENSE_TEXTS = {
    "Apache-2.0": (
        "Apache License",
        "Version 2.0, January 2004",
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "END OF TERMS AND CONDITIONS",
    )
}


def repository_files() -> list[Path]:
    if shutil.which("git") and (ROOT / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / p for p in out.decode().split("\0") if p]
    found = []
    for dirpath, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found += [Path(dirpath, f) for f in files]
    return found


def test_no_file_refers_to_documents_outside_the_repository():
    offenders = []
    for path in repository_files():
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        offenders += [
            f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
            for m in OUTSIDE.finditer(text)
        ]
    assert not offenders, "\n".join(offenders)


MODULE_LINE_CAP = 600  # docs/style.md: a module stays under 600 lines (hard cap)


def oversized_modules(package: Path) -> list[str]:
    """The modules under ``package`` longer than the cap, as 'path: N lines' (tracked or not yet)."""
    out = []
    for path in sorted(package.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MODULE_LINE_CAP:
            out.append(f"{path.relative_to(package.parent)}: {lines} lines")
    return out


def test_no_module_exceeds_the_line_cap():
    oversized = oversized_modules(ROOT / "artvc")
    assert not oversized, f"split these by responsibility (docs/style.md, {MODULE_LINE_CAP}-line cap):\n" + "\n".join(
        oversized
    )


def test_the_design_contract_and_contributor_guides_are_in_the_repository():
    for name in (
        "docs/design.md",
        "docs/style.md",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
        "LICENSE",
        ".pre-commit-config.yaml",
    ):
        assert (ROOT / name).is_file(), name
    index = (ROOT / "docs/index.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "(design.md)" in index and "(docs/design.md)" in readme


def test_license_file_is_the_license_the_metadata_names():
    project = PYPROJECT["project"]
    spdx = project["license"]
    assert spdx in LICENSE_TEXTS, f"no known text for license {spdx!r}"
    assert "LICENSE" in project["license-files"]
    lines = [ln.strip() for ln in (ROOT / "LICENSE").read_text().splitlines()]
    for expected in LICENSE_TEXTS[spdx]:
        assert expected in lines, f"LICENSE lacks {expected!r}"
    # PEP 639: a license expression and License :: classifiers must not both be given
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]


def test_py_typed_marker_is_part_of_the_package():
    assert importlib.resources.files("artvc").joinpath("py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["artvc"]


def test_contributor_hooks_need_no_network():
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert config["repos"] and all(repo["repo"] == "local" for repo in config["repos"])
    languages = {hook["language"] for repo in config["repos"] for hook in repo["hooks"]}
    assert languages <= {"system", "pygrep"}


@pytest.mark.slow
def test_the_built_wheel_ships_py_typed_license_and_its_metadata(tmp_path):
    # a real build through the declared build backend, as an installer would do it, from a copy of the source
    # (a build writes build/ and *.egg-info next to the sources; nothing may write to the checkout)
    src = tmp_path / "src"
    for path in repository_files():
        if path.is_file():
            (src / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / path.relative_to(ROOT))
    out = tmp_path / "wheels"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = out.glob("artvc-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(z.read(f"{dist_info}/METADATA"))
        license_text = z.read(f"{dist_info}/licenses/LICENSE")
    assert "artvc/py.typed" in names
    for package in PYPROJECT["tool"]["setuptools"]["packages"]:
        assert package.replace(".", "/") + "/__init__.py" in names
    assert metadata["License-Expression"] == PYPROJECT["project"]["license"]
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert "Typing :: Typed" in metadata.get_all("Classifier")


def test_every_package_of_artvc_is_listed_for_the_build():
    # pyproject names the packages one by one: a package missing there is missing from a regular install
    # (the editable install the tests use would not notice)
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "artvc").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found == set(PYPROJECT["tool"]["setuptools"]["packages"])
