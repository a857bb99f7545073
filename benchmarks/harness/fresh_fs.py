"""A freshly made ext4 file system per benchmark sample (``--fresh-fs``), so that a sample measures the program,
not the history of the disk.

This machine kind's root file system is ext4 without a journal: a new inode skips the inodes freed in the last
~30 s (``recently_deleted``, checked only without a journal), and free space, fragmentation and the dirty pages
of the last sample carry over from one sample to the next. Creating 20k files took 3.1 s in one sample and 8.1 s
in the next. ``FreshFs.make`` gives each sample its own file system instead:

- a sparse image under the scratch directory (only written blocks take disk space);
- ``mkfs.ext4`` with its defaults (a journal; 4 KiB blocks and the ``default`` usage type at every size, so a
  small image is not made with 1 KiB blocks), at least as many inodes as the caller asks for, inode tables
  and journal left uninitialised (they are zeros in a sparse file) and ``noinit_itable`` at mount, so no
  background zeroing thread writes while a sample runs;
- a loop device with direct I/O on its image (the file system's pages are cached once, not twice);
- unmounted, detached and deleted by ``drop``, or by ``close`` for everything still mounted (a ``with`` block, a
  ``finally``, Ctrl-C, SIGTERM turned into ``SystemExit`` by the caller, and ``atexit`` as the last resort).

A file system filled once can be the template of others (``keep``, then ``make(template=...)``): its image is
copied (``cp --sparse=always``: only its written blocks) and mounted, with no ``mkfs`` and no file created one
at a time; such a copy's loop device reads its image through the host's page cache (no direct I/O), where the
copy left it, until its caller, once it has read what it needs, turns direct I/O on (``direct_io``): from then on
it writes as a fresh file system's device, and a disk, do. ``small_files.py`` generates a million files once
this way and gives every repository a copy of them in seconds, where ``cp -a`` of them took over 17 minutes.
``inline_data=True`` makes every file system with ext4's ``inline_data`` feature: a file of up to ~60 bytes
lives in its inode, with no data block (a million files of 16-64 B take ~0.3 GiB, not 4 GiB).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

MIB = 1 << 20
_TOOLS = ("mkfs.ext4", "losetup", "mount", "umount")
_checked: dict[str, str | None] = {}


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise OSError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def unavailable(scratch: Path) -> str | None:
    """None when fresh file systems can be made under ``scratch``, else the reason (one line)."""
    key = str(scratch)
    if key in _checked:
        return _checked[key]
    reason: str | None = None
    if os.geteuid() != 0:
        reason = "not root"
    elif missing := [t for t in _TOOLS if shutil.which(t) is None]:
        reason = f"{', '.join(missing)} not found"
    elif not Path("/dev/loop-control").exists():
        reason = "no /dev/loop-control (no loop devices)"
    else:
        trial = FreshFs(scratch)
        try:
            trial.drop(trial.make("trial", 64 * MIB, 1024))
        except OSError as exc:
            reason = f"a trial mount failed: {exc}"
        finally:
            trial.close()
    _checked[key] = reason
    return reason


class FreshFs:
    """Makes and drops loop-mounted ext4 file systems under ``scratch``; ``close`` drops the ones left."""

    def __init__(self, scratch: Path, *, inline_data: bool = False) -> None:
        self.scratch = scratch
        self.inline_data = inline_data
        self.mounted: dict[Path, tuple[str, Path]] = {}  # mount point -> (loop device, image)
        self.kept: list[Path] = []  # images of unmounted file systems (``keep``), deleted by ``close``
        self.made = 0
        self.seconds = 0.0  # spent making and dropping: the mode's cost
        atexit.register(self.close)

    def make(
        self, name: str, size: int, inodes: int = 4096, at: Path | None = None, *, template: Path | None = None
    ) -> Path:
        """A new, empty, mounted ext4 of ``size`` bytes (sparse) with at least ``inodes`` inodes; its mount point
        (``lost+found`` removed, so it starts empty): ``at`` (made if missing, must be empty) or a new folder of
        the scratch. With ``template`` (an image ``keep`` returned), a copy of that file system instead (its
        content, size and inodes; ``size`` and ``inodes`` are ignored)."""
        t = time.perf_counter()
        tag = f"{name}-{uuid.uuid4().hex[:8]}"
        image, mnt = self.scratch / f"{tag}.img", at or self.scratch / tag
        size = max(size, 64 * MIB) // (4 * 1024) * (4 * 1024)
        if template is None:
            with open(image, "wb") as f:
                f.truncate(size)
        dev = ""
        try:
            if template is not None:
                _run(["cp", "--sparse=always", str(template), str(image)])
            else:
                _run(
                    [
                        "mkfs.ext4", "-q", "-F", "-b", "4096", "-T", "default", "-N", str(inodes + inodes // 50 + 1024),
                        "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
                        *(["-O", "inline_data"] if self.inline_data else []), str(image),
                    ]
                )  # fmt: skip
            # a copy of a template is read through the host's cache, where ``cp`` just left the image: with direct
            # I/O, its first read (a million files' blocks, one 4 KiB read each) waits on the disk for minutes
            direct = "off" if template is not None else "on"
            dev = _run(["losetup", "--find", "--show", f"--direct-io={direct}", str(image)])
            mnt.mkdir(exist_ok=True)
            _run(["mount", "-t", "ext4", "-o", "noinit_itable", dev, str(mnt)])
        except BaseException:
            if os.path.ismount(mnt):
                subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
            # a signal between losetup attaching the image and ``dev`` being set leaves a device we never heard
            # of: ask which devices hold this image (``losetup -j``) and detach every one
            held = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout
            for d in {dev, *(line.split(":", 1)[0] for line in held.splitlines())} - {""}:
                subprocess.run(["losetup", "-d", d], capture_output=True)
            if mnt.exists():
                mnt.rmdir()
            image.unlink(missing_ok=True)
            raise
        self.mounted[mnt] = (dev, image)
        if template is None:
            (mnt / "lost+found").rmdir()
        self.made += 1
        self.seconds += time.perf_counter() - t
        return mnt

    def drop(self, mnt: Path, *, keep: bool = False) -> None:
        """Unmount ``mnt`` (waiting for a busy one a little, then lazily), detach its loop device, delete its
        image (``keep``: keep it for ``kept``) and mount point (unmounting writes its dirty pages to the image
        first: not timed). ``mnt`` stays listed as mounted until all of that is done, so a drop interrupted
        (Ctrl-C, SIGTERM) is finished by ``close``."""
        t = time.perf_counter()
        dev, image = self.mounted[mnt]
        for attempt in range(20):
            if not os.path.ismount(mnt):
                break
            done = subprocess.run(["umount", str(mnt)], capture_output=True)
            if done.returncode == 0:
                break
            time.sleep(0.1 * (attempt + 1))
        else:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        _detach(dev, image)
        del self.mounted[mnt]
        if keep:
            self.kept.append(image)
        else:
            image.unlink(missing_ok=True)
        try:
            mnt.rmdir()
        except OSError:
            pass
        self.seconds += time.perf_counter() - t

    def direct_io(self, mnt: Path) -> None:
        """Have the loop device of ``mnt`` (a template's copy, attached without direct I/O so that its first read
        comes from the host's cache) read and write its image with direct I/O from now on, as a disk would: the
        file system's pages are then cached once, in the guest, not again as the image's pages in the host. Called
        once the data was read into the page cache (untimed). Without it, a write around the page cache
        (``O_DIRECT``) went through the loop's own buffered copy into the host's cache: 88 MiB of 8 MiB direct
        writes took 0.55-0.9 s there, against 0.06 s on a device with direct I/O and 0.05 s on the root file
        system (``dd oflag=direct``), while buffered writes were not timed at all (written back later). Turning
        it on flushes the image's dirty pages first (the kernel's ``LOOP_SET_DIRECT_IO``)."""
        _run(["losetup", "--direct-io=on", self.mounted[mnt][0]])

    def keep(self, mnt: Path) -> Path:
        """Unmount ``mnt`` and keep its image (returned): the template of copies (``make(template=...)``), deleted
        by ``close`` unless the caller takes it out of ``kept`` first."""
        image = self.mounted[mnt][1]
        self.drop(mnt, keep=True)
        return image

    def close(self) -> None:
        for mnt in list(self.mounted):
            self.drop(mnt)
        for image in self.kept:
            image.unlink(missing_ok=True)
        self.kept = []

    def __enter__(self) -> FreshFs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _detach(dev: str, image: Path, wait: float = 10.0) -> None:
    """Detach loop device ``dev`` from ``image`` and wait until it is gone. A device still open when asked (an
    unmount a signal interrupted still tearing the file system down: ``umount`` killed by ``subprocess.run``
    on SIGTERM/Ctrl-C) is only marked to detach at its last close, so ``losetup -d`` returns while the device
    still holds the image: asked again until ``losetup -j`` no longer lists it, for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        subprocess.run(["losetup", "-d", dev], capture_output=True)
        held = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout
        if not any(line.split(":", 1)[0] == dev for line in held.splitlines()) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def fits(path: Path, need: int) -> str | None:
    """None when the file system of ``path`` has ``need`` bytes free, else a one-line refusal."""
    free = shutil.disk_usage(path).free
    if free >= need:
        return None
    return f"needs {need / (1 << 30):.1f} GiB free on {path}, has {free / (1 << 30):.1f} GiB"
