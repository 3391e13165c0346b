"""What the control API changes while the stand-in runs: faults, rules, tokens, secrets,
and the counters of what happened since the last reset."""

from collections import Counter
from dataclasses import dataclass, field

from fastapi import Request

from schedulehub_standin.faults import FaultDice
from schedulehub_standin.schemas import FaultPlan, Rules
from schedulehub_standin.settings import Settings
from schedulehub_standin.tokens import TokenStore


@dataclass
class Runtime:
    settings: Settings
    dice: FaultDice
    tokens: TokenStore
    webhook_secrets: list[str]
    rules: Rules = field(default_factory=Rules)
    # rejected records by reason, webhooks by outcome, sign-ins and refreshes
    counters: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Runtime":
        return cls(
            settings=settings,
            dice=FaultDice(settings.fault_seed),
            tokens=TokenStore(
                access_seconds=settings.access_token_seconds,
                refresh_seconds=settings.refresh_token_seconds,
            ),
            webhook_secrets=list(settings.webhook_secrets),
        )

    def reset(self) -> None:
        """No faults, no rules, the configured token lifetime and secrets, counters at zero
        (issued tokens stay valid)."""
        self.dice.set_plan(FaultPlan())
        self.dice.injected.clear()
        self.rules = Rules()
        self.tokens.access_seconds = self.settings.access_token_seconds
        self.webhook_secrets = list(self.settings.webhook_secrets)
        self.counters.clear()


def get_runtime(request: Request) -> Runtime:
    """The app's :class:`Runtime`, set by the lifespan."""
    runtime: Runtime = request.app.state.runtime
    return runtime
