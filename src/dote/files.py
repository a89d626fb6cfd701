"""Writing files so that a reader sees the old content or the new one, never half of it.

Every file the project writes in place (register files moved to the overlay, imported
activities, watch items and state, exports, cache entries) goes through here: a temporary
file in the same folder, then ``os.replace``; a new file, on Linux, an unnamed file of the
folder given its name once written. An interrupted run leaves the previous file, or none.
The file gets the permissions a plain write would give it: those of the file it replaces,
or the usual ones for a new file (``0o666`` less the umask), not the temporary file's
private ``0o600`` (a web server reading the site, a colleague reading an export).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

#: What the system's usual refusals mean, in French (its own messages follow the machine's
#: language, usually English on a server or in CI).
_SYSTEM_REFUSALS = {
    errno.ENOSPC: "plus de place sur le disque",
    errno.EDQUOT: "quota de disque dépassé",
    errno.EACCES: "permission refusée",
    errno.EPERM: "opération non permise",
    errno.EROFS: "disque en lecture seule",
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EEXIST: "un fichier de ce nom existe déjà",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EMFILE: "trop de fichiers ouverts à la fois",
    errno.EIO: "erreur de lecture ou d'écriture du disque",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ELOOP: "boucle de liens symboliques",
    errno.ENAMETOOLONG: "nom de fichier trop long",
}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: The permissions of a new file, as ``open()`` would make it.
NEW_FILE_MODE = 0o666 & ~_umask()
#: The permissions of a new folder, as ``mkdir()`` would make it.
NEW_FOLDER_MODE = 0o777 & ~_umask()


def write_atomic_bytes(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically; ``sync`` also flushes it to disk first.

    Cache entries skip the flush (``sync=False``): they are safe to lose, and written by
    the thousand.
    """
    if _write_new(path, data, sync):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = NEW_FILE_MODE
        if hasattr(os, "fchmod"):  # not on Windows before Python 3.13, where modes hardly apply
            os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            if sync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_new(path: Path, data: bytes, sync: bool) -> bool:
    """Write a file that does not exist yet as an unnamed file of its folder (Linux's
    ``O_TMPFILE``), given its name once written whole: no temporary name to make, then rename,
    which on ext4 takes two to three times as long as the write (a build writes tens of
    thousands of cache entries). ``False`` when it cannot (another system or file system, no
    ``/proc``, a file of that name already there): the caller writes it the usual way."""
    unnamed = getattr(os, "O_TMPFILE", None)
    if unnamed is None or os.path.lexists(path):  # not written twice to find it there
        return False
    try:
        try:
            handle = os.open(path.parent, unnamed | os.O_WRONLY, NEW_FILE_MODE)
        except FileNotFoundError:  # its folder is new
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(path.parent, unnamed | os.O_WRONLY, NEW_FILE_MODE)
    except OSError:
        return False
    try:
        os.fchmod(handle, NEW_FILE_MODE)  # as a plain write would make it, whatever the umask did
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view) :]
        if sync:
            os.fsync(handle)
        # The absolute path makes the descriptor given for it unused; it follows the link.
        os.link(f"/proc/self/fd/{handle}", path, src_dir_fd=handle)
    except OSError:
        return False
    finally:
        os.close(handle)
    return True


#: The network's refusals (``dote serve``'s address), in French.
_NETWORK_REFUSALS = {
    errno.EADDRINUSE: "cette adresse et ce port sont déjà utilisés par un autre programme",
    errno.EADDRNOTAVAIL: "cette adresse n'est pas celle de cette machine",
    errno.ECONNREFUSED: "connexion refusée",
}


def system_refusal(err: OSError) -> str:
    """A French sentence for a refused read or write (or network operation): what the system
    said, and where."""
    where = f" ({err.filename})" if err.filename else ""
    if err.errno in _NETWORK_REFUSALS:
        return f"opération réseau impossible{where} : {_NETWORK_REFUSALS[err.errno]}"
    return f"lecture ou écriture impossible{where} : {system_reason(err)}"


def system_reason(err: OSError) -> str:
    """Why the system refused, in French when it is one of its usual refusals (its own words,
    in the machine's language, otherwise)."""
    return _SYSTEM_REFUSALS.get(err.errno or 0) or err.strerror or str(err)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`write_atomic_bytes`)."""
    write_atomic_bytes(path, text.encode("utf-8"))
