"""Running an app under uvicorn (Ctrl-C and SIGTERM stop it cleanly)."""

import uvicorn
from fastapi import FastAPI


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` until interrupted; uvicorn handles SIGINT/SIGTERM gracefully."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    uvicorn.Server(config).run()
