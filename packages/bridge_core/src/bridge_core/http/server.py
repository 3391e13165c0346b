"""Running an app under uvicorn (Ctrl-C and SIGTERM stop it cleanly)."""

import uvicorn
from fastapi import FastAPI


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` until interrupted; uvicorn handles SIGINT/SIGTERM gracefully."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    uvicorn.Server(config).run()


def serve_workers(factory: str, *, host: str, port: int, workers: int) -> None:
    """Serve the app that ``factory`` ("module:function", called in each process) builds,
    in ``workers`` processes sharing the port; uvicorn restarts a worker that dies."""
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
    )
