"""Waking the in-process batch executor when a request queues a batch."""

from collections.abc import Callable
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request


def _executor_waker(request: Request, after_response: BackgroundTasks) -> Callable[[], None]:
    def wake() -> None:
        executor = getattr(request.app.state, "executor", None)
        if executor is not None:
            # after the response: the request's transaction (``Connection``) has
            # committed by then, so the executor finds the batch at once
            after_response.add_task(executor.wake)

    return wake


# ``wake()`` in a handler that queued a batch: the app's executor (if it runs one) looks
# for it as soon as the response is sent, not at its next poll
WakeExecutor = Annotated[Callable[[], None], Depends(_executor_waker)]
