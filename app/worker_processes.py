"""`epu serve --workers N`: one listening socket, N worker processes, each connection handed to
the next worker in turn.

uvicorn's own workers all accept on the shared socket, and whichever wakes first takes every
connection waiting: 16 keep-alive connections opened together (a lab's software, nginx's
upstream pool, a load test) often all landed on one worker, which then had one core to itself
while the other sat idle. Here the supervisor accepts and passes each connection's descriptor to
a worker over a Unix socket (SCM_RIGHTS), round robin, as Node's cluster module does; the worker
serves it as if it had accepted it. A connection costs the supervisor one accept and one send;
its requests never pass through it.

The supervisor replaces a worker that dies, stops when a worker cannot start the application
(uvicorn's exit code 3: a bad setting, an unreachable database), and on SIGTERM or SIGINT stops
accepting and lets each worker finish its requests. A worker whose supervisor is gone stops too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from app.logs import configure_logging

STARTUP_FAILURE = 3
"""uvicorn's exit code when the application's start-up fails."""
ACCEPT_PAUSE = 0.5
"""Seconds the supervisor stops accepting after running out of descriptors, rather than spin."""
STOP_WITHIN = 30.0
"""Seconds a worker gets to finish its requests after SIGTERM before it is killed."""

log = logging.getLogger("epu.workers")


def uvicorn_config(log_level: str, **place: Any) -> uvicorn.Config:
    """How every gateway process serves, alone or as a worker."""
    return uvicorn.Config(
        "app.main:create_app",
        factory=True,
        log_level=log_level,
        # Our own middleware logs each request as JSON by its route template; uvicorn's access
        # log would write raw paths and query strings, which carry EPU codes.
        access_log=False,
        server_header=False,
        **place,
    )


def serve(host: str, port: int, workers: int, log_level: str) -> int:
    """Serve on host:port: in this process for one worker, else behind a supervisor."""
    if workers <= 1:
        uvicorn.Server(uvicorn_config(log_level, host=host, port=port)).run()
        return 0
    configure_logging()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    both = host == "::" and socket.has_dualstack_ipv6()  # as uvicorn binds "::": IPv4 too
    with socket.create_server(
        (host, port), family=family, backlog=2048, dualstack_ipv6=both
    ) as listener:
        return Supervisor(listener, workers, log_level).run()


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    channel: socket.socket
    """The supervisor's end of the Unix socket the connections go through."""
    exited: int = field(init=False)
    """A descriptor that becomes readable when the process ends (pidfd)."""
    ready: bool = False
    """It said its application started: one that ends before is a failed start, not a crash."""

    def __post_init__(self) -> None:
        self.exited = os.pidfd_open(self.process.pid)

    @classmethod
    def start(cls, log_level: str) -> Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        process = subprocess.Popen(
            [sys.executable, "-m", "app.worker_processes", "--channel", str(theirs.fileno()),
             "--log-level", log_level],
            pass_fds=[theirs.fileno()],
        )  # fmt: skip
        theirs.close()
        ours.setblocking(False)
        return cls(process, ours)

    def close(self) -> None:
        self.channel.close()
        os.close(self.exited)


class Supervisor:
    def __init__(self, listener: socket.socket, count: int, log_level: str) -> None:
        self._listener = listener
        self._log_level = log_level
        self._workers = [Worker.start(log_level) for _ in range(count)]
        self._next = 0
        self._stopping = False
        self._paused_until = 0.0
        """While accept fails for want of descriptors, the listener is not watched (monotonic)."""
        self._selector = selectors.DefaultSelector()

    def run(self) -> int:
        woken, waker = socket.socketpair()
        for end in (woken, waker):
            end.setblocking(False)
        signal.set_wakeup_fd(waker.fileno())
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
        self._selector.register(woken, selectors.EVENT_READ, lambda: _drain(woken))
        for worker in self._workers:
            self._watch(worker)
        code = 0
        try:
            while not self._stopping:
                if self._paused_until and time.monotonic() >= self._paused_until:
                    self._paused_until = 0.0
                    self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
                timeout = max(0.0, self._paused_until - time.monotonic()) or None
                for key, _ in self._selector.select(timeout):
                    code = key.data() or 0
                    if code:
                        self._stopping = True
                        break
        finally:
            self._listener.close()
            self._stop_workers()
            signal.set_wakeup_fd(-1)
            woken.close()
            waker.close()
        return code

    def _stop(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _watch(self, worker: Worker) -> None:
        self._selector.register(worker.exited, selectors.EVENT_READ, lambda: self._ended(worker))
        self._selector.register(worker.channel, selectors.EVENT_READ, lambda: self._heard(worker))

    def _accept(self) -> int:
        while True:
            try:
                connection, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return 0
            except ConnectionAbortedError:  # the client gave up while it waited
                continue
            except OSError as refused:  # out of descriptors: the connection stays queued
                log.warning("accept failed (%s): listening again in %.1f s",
                            type(refused).__name__, ACCEPT_PAUSE)  # fmt: skip
                self._selector.unregister(self._listener)
                self._paused_until = time.monotonic() + ACCEPT_PAUSE
                return 0
            with connection:
                self._hand(connection)

    def _hand(self, connection: socket.socket) -> None:
        """To the next worker in turn that serves already (one still starting would hold it until
        it does), or, if none does yet, to the next that takes it; one that is full or gone is
        skipped."""
        count = len(self._workers)
        turn = [self._workers[(self._next + step) % count] for step in range(count)]
        for worker in [w for w in turn if w.ready] + [w for w in turn if not w.ready]:
            try:
                socket.send_fds(worker.channel, [b"c"], [connection.fileno()])
            except OSError:
                continue
            self._next = (self._workers.index(worker) + 1) % count
            return
        log.warning("no worker took a connection: closed")

    def _heard(self, worker: Worker) -> int:
        """A worker says it serves (after its application started)."""
        try:
            said = worker.channel.recv(16)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            said = b""
        if said:
            worker.ready = True
            log.info("worker %d serving", worker.process.pid)
        else:
            self._selector.unregister(worker.channel)
        return 0

    def _ended(self, worker: Worker) -> int:
        self._selector.unregister(worker.exited)
        with contextlib.suppress(KeyError):  # unless its end of the channel closed first
            self._selector.unregister(worker.channel)
        code = worker.process.wait()
        worker.close()
        if self._stopping:
            return 0
        if not worker.ready:
            log.error("a worker could not start the application (exit code %d): stopping", code)
            return code if code > 0 else STARTUP_FAILURE
        log.warning("worker %d ended with exit code %d: starting another", worker.process.pid, code)
        fresh = Worker.start(self._log_level)
        self._workers[self._workers.index(worker)] = fresh
        self._watch(fresh)
        return 0

    def _stop_workers(self) -> None:
        running = [worker for worker in self._workers if worker.process.poll() is None]
        for worker in running:
            worker.process.terminate()
        for worker in running:
            try:
                worker.process.wait(timeout=STOP_WITHIN)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        for worker in running:
            worker.close()


def _drain(woken: socket.socket) -> int:
    """The signal handler ran; the byte it wrote only woke the loop."""
    woken.recv(512)
    return 0


class HandedConnections(uvicorn.Server):
    """A uvicorn server that listens on nothing and serves the connections its supervisor
    hands it over `channel`."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self._channel = channel
        self._opening: set[asyncio.Task[Any]] = set()
        """Connections being set up: the loop holds its tasks only weakly."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        self._channel.setblocking(False)
        self._channel.send(b"r")  # to the supervisor: serving
        loop = asyncio.get_running_loop()
        loop.add_reader(self._channel.fileno(), self._take, loop)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().remove_reader(self._channel.fileno())
        await super().shutdown(sockets)

    def _take(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            message, descriptors, _, _ = socket.recv_fds(self._channel, 1, 8)
        except BlockingIOError:
            return
        if not message:  # the supervisor is gone: finish what is in flight and stop
            loop.remove_reader(self._channel.fileno())
            self.should_exit = True
            return
        for descriptor in descriptors:
            connection = socket.socket(fileno=descriptor)
            opening = loop.create_task(loop.connect_accepted_socket(self._protocol, connection))
            self._opening.add(opening)
            opening.add_done_callback(functools.partial(self._opened, connection))

    def _opened(self, connection: socket.socket, task: asyncio.Task[Any]) -> None:
        self._opening.discard(task)
        if task.cancelled() or task.exception() is not None:  # the client left meanwhile
            connection.close()

    def _protocol(self) -> asyncio.Protocol:
        """What uvicorn's `startup` makes for each connection it accepts."""
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol


def _worker(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    arguments = parser.parse_args(argv)
    channel = socket.socket(fileno=arguments.channel)
    HandedConnections(uvicorn_config(arguments.log_level), channel).run()


if __name__ == "__main__":
    _worker(sys.argv[1:])
