"""Fetch the website's browser assets from npm, check them, and unpack them for Sphinx.

The built site must work with no internet, so MathJax, require.js and the ipywidgets embed
manager are served from ``_static/vendor/`` instead of CDNs. Which packages, at which exact
versions and with which sha512 integrity, is recorded in ``tools/vendor.lock.json``; this
script is the only thing that reads it. It runs before every book build (``make book``, the
test build) and returns at once when ``book/_static/vendor/`` already matches the lock file.

Tarballs are fetched with ``npm pack NAME@VERSION`` into ``.cache/vendor/`` (kept between runs,
re-checked every time they are used) and only the files the lock names are unpacked. Nothing
here is executed from the packages. Standard library only, so it runs before ``.venv`` exists.

Usage: ``python tools/vendor_assets.py [--force]``
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "tools" / "vendor.lock.json"
VENDOR = ROOT / "book" / "_static" / "vendor"
CACHE = ROOT / ".cache" / "vendor"
STAMP = VENDOR / ".vendored.json"


class VendorError(RuntimeError):
    pass


def integrity_of(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def tarball_name(name: str, version: str) -> str:
    """The file name ``npm pack`` gives a package: ``@scope/pkg`` becomes ``scope-pkg``."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def fetch(package: dict) -> Path:
    """The package's tarball from the cache or npm, checked against the pinned integrity."""
    spec = f"{package['name']}@{package['version']}"
    tarball = CACHE / tarball_name(package["name"], package["version"])
    if tarball.is_file() and integrity_of(tarball) == package["integrity"]:
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            "npm was not found. The website serves MathJax, require.js and the ipywidgets embed "
            "manager itself (no CDN), and fetches them once from the npm registry with `npm pack`. "
            "Install Node.js with npm (Debian/Ubuntu: `apt-get install npm`; conda: "
            "`conda install nodejs`) and run the command again."
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball.unlink(missing_ok=True)
    print(f"vendor: npm pack {spec}", file=sys.stderr)
    result = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(CACHE), "--ignore-scripts",
         "--loglevel=error", "--json"],
        cwd=CACHE, capture_output=True, text=True,
    )
    if result.returncode != 0 or not tarball.is_file():
        raise VendorError(f"`npm pack {spec}` failed (exit {result.returncode}):\n"
                          f"{result.stderr.strip() or result.stdout.strip()}")
    found = integrity_of(tarball)
    if found != package["integrity"]:
        tarball.unlink()
        raise VendorError(f"{spec}: the tarball's integrity {found} is not the pinned "
                          f"{package['integrity']} in {LOCK.name}; refusing to use it.")
    return tarball


def unpack(package: dict, tarball: Path, into: Path) -> list[str]:
    """Copy the tarball's files that match ``include`` to ``into/<package into>/``."""
    written, matched = [], set()
    target = into / package["into"]
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            name = member.name.split("/", 1)[1]  # npm tarballs hold everything under package/
            patterns = {p for p in package["include"] if fnmatch.fnmatch(name, p)}
            if ".." in name.split("/") or not patterns:
                continue
            matched |= patterns
            relative = name[len(package["strip"]):] if name.startswith(package["strip"]) else name
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out)
            written.append(f"{package['into']}/{relative}")
    unmatched = sorted(set(package["include"]) - matched)
    if unmatched:
        raise VendorError(f"{package['name']}: nothing in the tarball matches {unmatched}")
    return written


def up_to_date(lock_digest: str) -> bool:
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("lock") == lock_digest and all((VENDOR / f).is_file() for f in stamp["files"])


def main(force: bool = False) -> int:
    lock_text = LOCK.read_text()
    lock_digest = hashlib.sha256(lock_text.encode()).hexdigest()
    if not force and up_to_date(lock_digest):
        return 0
    packages = json.loads(lock_text)["packages"]
    try:
        tarballs = [fetch(package) for package in packages]
        staging = VENDOR.with_name("vendor.partial")
        shutil.rmtree(staging, ignore_errors=True)
        files = []
        for package, tarball in zip(packages, tarballs):
            files += unpack(package, tarball, staging)
    except VendorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    (staging / STAMP.name).write_text(json.dumps({"lock": lock_digest, "files": sorted(files)}, indent=1))
    shutil.rmtree(VENDOR, ignore_errors=True)
    staging.rename(VENDOR)
    size = sum((VENDOR / f).stat().st_size for f in files)
    versions = ", ".join(f"{p['name']} {p['version']}" for p in packages)
    print(f"vendor: {len(files)} files ({size / 1e6:.1f} MB) from {versions} "
          f"in {VENDOR.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(force="--force" in sys.argv[1:]))
