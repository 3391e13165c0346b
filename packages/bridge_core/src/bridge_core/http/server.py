"""Running an app under uvicorn (Ctrl-C and SIGTERM stop it cleanly), in one process or several.

Several processes each listen on a socket of their own, bound to the same port with
``SO_REUSEPORT``: the kernel spreads new connections evenly over them. uvicorn's own
supervisor hands one shared socket to every worker, and whichever worker wakes first
accepts a whole burst of connections; under ``bench/load.py`` one of two workers took
90% of the connections' work and the other idled. (Linux lets only processes of the same
user bind a port that another process holds with ``SO_REUSEPORT``.)
"""

import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess

import uvicorn
from fastapi import FastAPI
from loguru import logger
from uvicorn.config import STARTUP_FAILURE

RESTART_PAUSE_S = 1.0  # between a worker's death and its replacement, so a crash loop idles
STOP_GRACE_S = 30.0  # a stopping worker's time to finish its requests before SIGKILL


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` until interrupted; uvicorn handles SIGINT/SIGTERM gracefully."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    uvicorn.Server(config).run()


def serve_workers(factory: str, *, host: str, port: int, workers: int) -> None:
    """Serve the app that ``factory`` ("module:function", called in each process) builds,
    in ``workers`` processes on one port until SIGINT or SIGTERM. A worker that dies is
    replaced; one that cannot start (port taken, app failing its startup) stops them all
    with an error."""
    WorkerSupervisor(factory, host=host, port=port, workers=workers).run()


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _run_worker(factory: str, host: str, port: int) -> None:
    """One worker process: its own socket on the shared port, then uvicorn until SIGTERM."""
    try:
        sock = _listening_socket(host, port)
    except OSError as exc:
        logger.error("cannot listen on {}:{}: {}", host, port, exc)
        raise SystemExit(STARTUP_FAILURE) from exc
    config = uvicorn.Config(
        factory, factory=True, host=host, port=port, log_config=None, access_log=False
    )
    uvicorn.Server(config).run(sockets=[sock])


class WorkerSupervisor:
    """Starts ``workers`` server processes, replaces any that dies, stops them on a signal."""

    def __init__(self, factory: str, *, host: str, port: int, workers: int) -> None:
        self.factory = factory
        self.host = host
        self.port = port
        self.workers = workers
        self.processes: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.failed = False
        self._context = multiprocessing.get_context("spawn")

    def run(self) -> None:
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, lambda *_: self.stopping.set())
        self.processes = [self._start() for _ in range(self.workers)]
        logger.info(
            "serving on {}:{} in {} processes: {}",
            self.host,
            self.port,
            self.workers,
            ", ".join(str(process.pid) for process in self.processes),
        )
        while not self.stopping.wait(0.5):
            self._replace_the_dead()
        self._stop_all()
        if self.failed:
            raise SystemExit(1)

    def _start(self) -> BaseProcess:
        process = self._context.Process(
            target=_run_worker, args=(self.factory, self.host, self.port)
        )
        process.start()
        return process

    def _replace_the_dead(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                logger.error("worker {} could not start; stopping every worker", process.pid)
                self.failed = True
                self.stopping.set()
                return
            logger.warning(
                "worker {} ended (exit code {}); starting another", process.pid, process.exitcode
            )
            if self.stopping.wait(RESTART_PAUSE_S):
                return
            self.processes[index] = self._start()

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in self.processes:
            process.join(STOP_GRACE_S)
            if process.is_alive():
                process.kill()
                process.join()
