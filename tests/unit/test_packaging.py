"""pyproject.toml's package-dir is the one list of package folders; `packages` must name every folder below."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _folders_below(package: str, folder: Path) -> set[str]:
    found = {package}
    for child in folder.iterdir():
        if child.is_dir() and child.name.isidentifier() and child.name != "__pycache__":
            found |= _folders_below(f"{package}.{child.name}", child)
    return found


def test_packages_names_exactly_the_folders_below_package_dir() -> None:
    expected: set[str] = set()
    for package, folder in SETUPTOOLS["package-dir"].items():
        expected |= _folders_below(package, ROOT / folder)
    assert set(SETUPTOOLS["packages"]) == expected


def test_every_package_has_its_data_declared() -> None:
    data = SETUPTOOLS["package-data"]
    for package in SETUPTOOLS["packages"]:
        folder = ROOT / SETUPTOOLS["package-dir"][".".join(package.split(".")[:2])] / Path(*package.split(".")[2:])
        if not (folder / "__init__.py").exists():
            assert package in data, f"{package} holds only data files: declare them in package-data"
