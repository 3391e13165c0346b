"""Waking the in-process batch executor when a request queues a batch."""

from collections.abc import Callable
from typing import Annotated, Protocol

from fastapi import BackgroundTasks, Depends, Request


class _Executor(Protocol):
    """What a request needs of the app's batch executor (``worker.executor``)."""

    def wake(self) -> None: ...


async def _wake(executor: _Executor) -> None:
    # a coroutine, so it runs on the event loop (a plain function would run in a worker
    # thread, where setting the executor's asyncio.Event is not safe)
    executor.wake()


def _executor_waker(request: Request, after_response: BackgroundTasks) -> Callable[[], None]:
    executor: _Executor | None = getattr(request.app.state, "executor", None)

    def wake() -> None:
        if executor is not None:
            # after the response: the request's transaction (``Connection``) has
            # committed by then, so the executor finds the batch at once
            after_response.add_task(_wake, executor)

    return wake


# ``wake()`` in a handler that queued a batch: the app's executor (if it runs one) looks
# for it as soon as the response is sent, not at its next poll
WakeExecutor = Annotated[Callable[[], None], Depends(_executor_waker)]
