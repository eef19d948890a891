"""The unprivileged user Elasticsearch runs as when we are root (it refuses to run as root).

That user must reach (search every folder above) the distribution and the node's folder. Root's
cache usually sits in /root, which nobody else may enter, so the distribution is mirrored with hard
links into the node's folder; a node folder that user cannot reach (pytest's /tmp/pytest-of-root
is 0700) is replaced by a folder under the system temp dir, named after it so it is reused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from conveyor.common.servers.errors import ServerError
from conveyor.common.servers.maven import cache_dir, locked

log = logging.getLogger(__name__)

ELASTICSEARCH_USER = "conveyor-es"
_USERADD_NAME_IN_USE = 9


def elasticsearch_user() -> str | None:
    """None when we are not root; else the user to run Elasticsearch as, created on first use."""
    if os.geteuid() != 0:
        return None
    with locked(cache_dir() / ".user.lock"):
        try:
            pwd.getpwnam(ELASTICSEARCH_USER)
        except KeyError:
            _create_user()
    return ELASTICSEARCH_USER


def _create_user() -> None:
    useradd = shutil.which("useradd")
    if useradd is None:
        raise ServerError(
            f"Elasticsearch refuses to run as root, and there is no `useradd` to create the user "
            f"{ELASTICSEARCH_USER} to run it as: create that user, or run as a normal user"
        )
    argv = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    argv += ["--shell", "/usr/sbin/nologin", ELASTICSEARCH_USER]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode not in (0, _USERADD_NAME_IN_USE):
        raise ServerError(f"{' '.join(argv)} failed with code {result.returncode}: {result.stderr.strip()}")
    log.info("created the system user %s to run Elasticsearch as", ELASTICSEARCH_USER)


def stand_in_for(path: Path) -> Path:
    """The folder under the temp dir that stands in for `path` when the server's user cannot reach it (the
    same for the same path: a restart finds its data there)."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"conveyor-elasticsearch-{digest}"


def forget(path: Path) -> None:
    """Remove the stand-in of `path`, if any and ours (a fresh data folder must not find old data there)."""
    stand_in = stand_in_for(path.absolute())
    if not stand_in.is_dir() or stand_in.is_symlink():
        return
    runs_as = elasticsearch_user()
    owners = {os.getuid(), *([pwd.getpwnam(runs_as).pw_uid] if runs_as else [])}
    if stand_in.lstat().st_uid in owners:
        shutil.rmtree(stand_in, ignore_errors=True)


def reachable_dir(path: Path, name: str | None) -> Path:
    """`path`, created; or, if user `name` cannot reach it, a stand-in folder under the temp dir."""
    if name is None or _reachable(path, pwd.getpwnam(name)):
        path.mkdir(parents=True, exist_ok=True)
        return path
    account = pwd.getpwnam(name)
    stand_in = stand_in_for(path)
    stand_in.mkdir(mode=0o755, exist_ok=True)
    # The temp dir is shared: refuse a folder (or link) someone else planted under that name.
    info = stand_in.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, account.pw_uid):
        raise ServerError(f"{stand_in} exists and is not ours; remove it")
    log.warning("user %s cannot reach %s; Elasticsearch keeps its files in %s instead", name, path, stand_in)
    return stand_in


def give(name: str, top: Path, *trees: Path) -> None:
    """Make `top` and everything in `trees` belong to user `name`."""
    account = pwd.getpwnam(name)
    os.chown(top, account.pw_uid, account.pw_gid)
    for tree in trees:
        os.chown(tree, account.pw_uid, account.pw_gid)
        for folder, dirs, files in os.walk(tree):
            for entry in (*dirs, *files):
                os.chown(Path(folder) / entry, account.pw_uid, account.pw_gid, follow_symlinks=False)


def readable_home(home: Path, node_dir: Path, name: str) -> Path:
    """`home` if user `name` can reach it, else a hard-linked (or copied) mirror in `node_dir`."""
    if _reachable(home, pwd.getpwnam(name)):
        return home
    mirror = node_dir / "home"
    shutil.rmtree(mirror, ignore_errors=True)
    shutil.copytree(home, mirror, symlinks=True, copy_function=_link_or_copy)
    return mirror


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _reachable(path: Path, account: pwd.struct_passwd) -> bool:
    for folder in [*reversed(path.parents), path]:
        try:
            info = folder.stat()
        except FileNotFoundError:
            return True  # we create the rest, searchable by all (umask permitting)
        if info.st_uid == account.pw_uid:
            needed = stat.S_IXUSR
        elif info.st_gid == account.pw_gid:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not info.st_mode & needed:
            return False
    return True
