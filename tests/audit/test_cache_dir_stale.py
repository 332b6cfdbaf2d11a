"""The output cache's temporary directory after a SIGKILL: the next cache removes it, and
nothing that is not provably a dead run's cache."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from audit.core.cache_dir import PREFIX, clean_stale_caches, make_store_dir

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent("""
    import os, sys, time
    from audit.core.cache_dir import make_store_dir
    path, _ = make_store_dir(sys.argv[1])
    with open(os.path.join(path, "0-unlearned_test.f32"), "wb") as f:
        f.write(b"\\0" * 4096)
    print(path, flush=True)
    time.sleep(60)
""")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_runs_cache_is_removed_by_the_next_cache(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        stale = Path(child.stdout.readline().strip())
        assert stale.is_dir() and stale.name.startswith(f"{PREFIX}{child.pid}-")
        assert clean_stale_caches(str(tmp_path)) == []  # its process still runs: kept
    finally:
        child.kill()  # SIGKILL: no finalizer runs
        child.wait(timeout=30)
    assert stale.is_dir()  # left behind
    path, remove = make_store_dir(str(tmp_path))
    assert not stale.exists() and sorted(p.name for p in tmp_path.iterdir()) == [Path(path).name]
    remove()
    assert list(tmp_path.iterdir()) == []


def test_what_is_not_provably_a_dead_runs_cache_is_left_alone(tmp_path: Path) -> None:
    dead = _dead_pid()
    foreign = tmp_path / f"{PREFIX}{dead}-abc"  # a dead pid, but someone's own file inside
    foreign.mkdir()
    (foreign / ".lock").touch()
    (foreign / "diary.txt").write_text("mine")
    unlocked_but_no_lock_file = tmp_path / f"{PREFIX}{dead}-nolock"
    unlocked_but_no_lock_file.mkdir()
    (unlocked_but_no_lock_file / "0-a.f32").touch()
    held = tmp_path / f"{PREFIX}{dead}-held"  # e.g. a live run in another pid namespace
    held.mkdir()
    fd = os.open(held / ".lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    other = tmp_path / f"unlearn-audit-cachex-{dead}-q"  # not our prefix
    other.mkdir()
    mine = tmp_path / f"{PREFIX}{os.getpid()}-me"  # this process's
    mine.mkdir()
    (mine / ".lock").touch()
    stale = tmp_path / f"{PREFIX}{dead}-stale"
    stale.mkdir()
    (stale / ".lock").touch()
    (stale / "3-original_forget.f32").write_bytes(b"\0" * 64)
    try:
        assert clean_stale_caches(str(tmp_path)) == [str(stale)]
    finally:
        os.close(fd)
    assert all(p.is_dir() for p in (foreign, unlocked_but_no_lock_file, held, other, mine))
    assert (foreign / "diary.txt").read_text() == "mine"
