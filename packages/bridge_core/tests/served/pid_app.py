"""A tiny app for the worker supervisor's tests: it answers with the pid of its process."""

import os

from fastapi import FastAPI


def build() -> FastAPI:
    app = FastAPI()

    @app.get("/pid")
    async def pid() -> int:
        return os.getpid()

    return app
