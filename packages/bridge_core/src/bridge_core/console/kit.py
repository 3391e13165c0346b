"""The console's shared machinery: session cookie, CSRF, languages, theme, rendering, sign-in.

Session: after sign-in the browser holds the user's access token (a JWT from
``bridge_core.auth.tokens``) in the ``bridge_session`` cookie, HttpOnly and
SameSite=Lax (Secure outside development), valid as long as the token.

CSRF: a random token in the ``bridge_csrf`` cookie (HttpOnly, SameSite=Strict) is
rendered into every form as ``csrf_token`` and sent by HTMX as ``X-CSRF-Token``; a
console ``POST`` whose token does not match the cookie is refused with 403, the
sign-in form included.

Errors: a service's refusal (:class:`BridgeError`) on a console page or form post is a
page saying why, with a link back; the JSON API and HTMX partials keep ``{"detail"}``.

Preferences: ``bridge_lang`` (``en``/``fa``) and ``bridge_theme`` (``light``/``dark``)
cookies, set by the switch in the header and remembered for a year.
"""

import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp

from bridge_core.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, Translations
from bridge_core.errors import BadRequest, BridgeError, Forbidden, TooManyRequests, Unauthorized
from bridge_core.http.errors import bounded
from bridge_core.http.throttle import sign_in_throttle

__all__ = ["ConsoleKit", "ConsoleUser", "NavItem"]

CONSOLE_PREFIX = "/console"
SESSION_COOKIE = "bridge_session"
CSRF_COOKIE = "bridge_csrf"
LANGUAGE_COOKIE = "bridge_lang"
THEME_COOKIE = "bridge_theme"
THEMES = ("light", "dark")
_PREFERENCE_SECONDS = 365 * 24 * 3600
_HERE = Path(__file__).parent


@dataclass(frozen=True)
class ConsoleUser:
    """Who is looking at the console, and whether they may change things."""

    name: str
    role: str
    can_change: bool
    is_admin: bool
    uid: UUID | None = None  # the user's row, for services that record who did what


@dataclass(frozen=True)
class NavItem:
    path: str  # under /console, e.g. "/batches"
    label: str  # English source text; translated when rendered


SignIn = Callable[[Request, str, str], Awaitable[tuple[str, int]]]
"""``(request, username, password) -> (session token, seconds valid)``; raises Unauthorized."""

SessionUser = Callable[[Request, str], Awaitable[ConsoleUser]]
"""``(request, session token) -> the user``; raises Unauthorized when the token is not valid."""


class NotSignedIn(Exception):
    """Raised by :meth:`ConsoleKit.user`; the installed handler redirects to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass
class ConsoleKit:
    """One service's console: its templates, catalog, navigation and sign-in."""

    service: str
    template_dir: Path
    catalog_dir: Path
    nav: Sequence[NavItem]
    sign_in: SignIn
    session_user: SessionUser
    secure_cookies: bool = False
    _environments: dict[str, Environment] = field(default_factory=dict, init=False)
    _translations: dict[str, Translations] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        catalogs = [self.catalog_dir, _HERE / "translations"]
        loader = ChoiceLoader(
            [FileSystemLoader(self.template_dir), FileSystemLoader(_HERE / "templates")]
        )
        for code in LANGUAGES:
            translations = Translations(code, catalogs)
            environment = Environment(
                loader=loader,
                autoescape=select_autoescape(["html"]),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            environment.install_gettext_callables(  # type: ignore[attr-defined]
                translations.gettext, translations.ngettext, newstyle=True
            )
            environment.filters["datetime"] = translations.datetime
            environment.filters["number"] = translations.number
            environment.filters["duration"] = translations.duration
            self._environments[code] = environment
            self._translations[code] = translations

    # --- request state ----------------------------------------------------------------

    @staticmethod
    def language(request: Request) -> str:
        code = request.cookies.get(LANGUAGE_COOKIE, DEFAULT_LANGUAGE)
        return code if code in LANGUAGES else DEFAULT_LANGUAGE

    @staticmethod
    def theme(request: Request) -> str:
        theme = request.cookies.get(THEME_COOKIE, "light")
        return theme if theme in THEMES else "light"

    def translations(self, request: Request) -> Translations:
        return self._translations[self.language(request)]

    @staticmethod
    def csrf_token(request: Request) -> str:
        """The request's CSRF token: the cookie's, or a new one that ``render`` will set."""
        token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
        if token is None:
            token = secrets.token_urlsafe(32)
            request.state.new_csrf = token
        return str(token)

    async def user(self, request: Request) -> ConsoleUser:
        """The signed-in user (a dependency for every page); redirects to sign-in when none."""
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            try:
                return await self.session_user(request, token)
            except Unauthorized:
                pass
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise NotSignedIn(target)

    async def changer(self, request: Request) -> ConsoleUser:
        """A signed-in user who may change things, with a valid CSRF token (for every POST)."""
        user = await self.user(request)
        await self.check_csrf(request)
        if not user.can_change:
            raise Forbidden("the viewer role can only read")
        return user

    async def admin(self, request: Request) -> ConsoleUser:
        """A signed-in admin with a valid CSRF token."""
        user = await self.changer(request)
        if not user.is_admin:
            raise Forbidden("admin role required")
        return user

    @staticmethod
    async def check_csrf(request: Request) -> None:
        """Refuse (403) a POST whose form field or header token does not match the cookie."""
        expected = request.cookies.get(CSRF_COOKIE)
        sent = request.headers.get("X-CSRF-Token")
        if sent is None:
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
        if not expected or not sent or not hmac.compare_digest(expected, sent):
            raise Forbidden("missing or invalid CSRF token: reload the page and try again")

    # --- rendering ----------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        user: ConsoleUser | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        """Render a page or partial in the reader's language, setting the CSRF cookie if new."""
        code = self.language(request)
        translations = self._translations[code]
        page = self._environments[code].get_template(template)
        html = page.render(
            {
                "request": request,
                "service": self.service,
                "user": user,
                "nav": self.nav,
                "lang": translations.language,
                "languages": LANGUAGES.values(),
                "theme": self.theme(request),
                "csrf_token": self.csrf_token(request),
                "prefix": CONSOLE_PREFIX,
                "current_path": request.url.path,
                **(context or {}),
            }
        )
        response = HTMLResponse(html, status_code=status_code)
        new_csrf = getattr(request.state, "new_csrf", None)
        if new_csrf is not None:
            response.set_cookie(
                CSRF_COOKIE,
                new_csrf,
                httponly=True,
                samesite="strict",
                secure=self.secure_cookies,
                path=CONSOLE_PREFIX,
            )
        return response

    def render_form(
        self, request: Request, template: str, context: dict[str, Any], *, user: ConsoleUser
    ) -> HTMLResponse:
        """A page with a form: 422 when it comes back with the reason it was refused
        (``context["error"]``), else 200."""
        status = 422 if context.get("error") else 200
        return self.render(request, template, context, user=user, status_code=status)

    # --- the shared routes --------------------------------------------------------------

    def install(self, app: Any, pages: APIRouter) -> None:
        """Mount static files, the shared routes and ``pages``; ``/`` redirects to the console."""
        static: ASGIApp = StaticFiles(directory=_HERE / "static")
        app.mount(f"{CONSOLE_PREFIX}/static", static, name="console-static")
        app.include_router(self.router())
        app.include_router(pages, prefix=CONSOLE_PREFIX)

        async def not_signed_in(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, NotSignedIn)
            if request.headers.get("HX-Request"):
                # a partial cannot redirect the page itself: ask HTMX to
                return Response(status_code=401, headers={"HX-Redirect": f"{CONSOLE_PREFIX}/login"})
            return RedirectResponse(
                f"{CONSOLE_PREFIX}/login?next={_safe_next(exc.next_path)}", status_code=303
            )

        app.add_exception_handler(NotSignedIn, not_signed_in)

        json_error = app.exception_handlers.get(BridgeError)

        async def console_error(request: Request, exc: Exception) -> Response:
            """A refused console page or form post (409, 403, 404...) as a page saying why;
            the JSON API and HTMX partials keep ``{"detail": ...}``."""
            assert isinstance(exc, BridgeError)
            page = request.url.path == CONSOLE_PREFIX or request.url.path.startswith(
                f"{CONSOLE_PREFIX}/"
            )
            if json_error is not None and (not page or request.headers.get("HX-Request")):
                response: Response = await json_error(request, exc)
                return response
            try:
                user: ConsoleUser | None = await self.user(request)
            except NotSignedIn:
                user = None
            referer = urlsplit(request.headers.get("referer", ""))
            back = _safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
            context = {"detail": bounded(exc.detail), "back": back}
            return self.render(
                request, "console/error.html", context, user=user, status_code=exc.status_code
            )

        app.add_exception_handler(BridgeError, console_error)

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)
        kit = self

        @router.get("/")
        async def root() -> RedirectResponse:
            return RedirectResponse(CONSOLE_PREFIX, status_code=307)

        @router.get(f"{CONSOLE_PREFIX}/login")
        async def login_page(request: Request, next: str = CONSOLE_PREFIX) -> HTMLResponse:
            return kit.render(request, "console/login.html", {"next": _safe_next(next)})

        @router.post(f"{CONSOLE_PREFIX}/login")
        async def login(
            request: Request,
            username: Annotated[str, Form()],
            password: Annotated[str, Form()],
            next: Annotated[str, Form()] = CONSOLE_PREFIX,
        ) -> Response:
            await kit.check_csrf(request)
            context: dict[str, Any] = {"next": _safe_next(next), "username": username}
            try:
                async with sign_in_throttle(request).sign_in(request, account=username):
                    token, seconds = await kit.sign_in(request, username, password)
            except Unauthorized:
                context["failed"] = True
                return kit.render(request, "console/login.html", context, status_code=401)
            except TooManyRequests as exc:
                context["locked_for"] = exc.retry_after
                page = kit.render(request, "console/login.html", context, status_code=429)
                page.headers["Retry-After"] = str(exc.retry_after)
                return page
            response = RedirectResponse(_safe_next(next), status_code=303)
            response.set_cookie(
                SESSION_COOKIE,
                token,
                max_age=seconds,
                httponly=True,
                samesite="lax",
                secure=kit.secure_cookies,
                path="/",
            )
            return response

        @router.post(f"{CONSOLE_PREFIX}/logout")
        async def logout(request: Request) -> Response:
            await kit.check_csrf(request)
            response = RedirectResponse(f"{CONSOLE_PREFIX}/login", status_code=303)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response

        @router.post(f"{CONSOLE_PREFIX}/preferences")
        async def preferences(
            request: Request,
            lang: Annotated[str | None, Form()] = None,
            theme: Annotated[str | None, Form()] = None,
            back: Annotated[str, Form()] = CONSOLE_PREFIX,
        ) -> Response:
            await kit.check_csrf(request)
            response = RedirectResponse(_safe_next(back), status_code=303)
            if lang is not None:
                if lang not in LANGUAGES:
                    raise BadRequest(f"unknown language {lang!r}")
                response.set_cookie(
                    LANGUAGE_COOKIE, lang, max_age=_PREFERENCE_SECONDS, samesite="lax"
                )
            if theme is not None:
                if theme not in THEMES:
                    raise BadRequest(f"unknown theme {theme!r}")
                response.set_cookie(
                    THEME_COOKIE, theme, max_age=_PREFERENCE_SECONDS, samesite="lax"
                )
            return response

        return router


def _safe_next(path: str) -> str:
    """A redirect target inside the console only (no other host, no scheme tricks)."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith(CONSOLE_PREFIX) or "\\" in path:
        return CONSOLE_PREFIX
    return path
