"""The server-rendered operator console both services serve under ``/console``.

Jinja2 templates with HTMX for partial updates (``static/htmx.min.js``, vendored from
the ``htmx.org`` npm package 2.0.11, no build step), a signed session cookie, CSRF on
every form, English and Persian (right to left) through Babel catalogs, dates and
numbers in the reader's locale, a light and a dark theme.

A service builds one :class:`~bridge_core.console.kit.ConsoleKit` (with
``bridge_core.console.service_kit.service_console_kit``) from its own
templates, catalog, navigation and sign-in callables, includes ``kit.router()`` and
its own page router, and renders pages with ``kit.render(...)``.
"""

from bridge_core.console.kit import ConsoleKit, ConsoleUser, NavItem

__all__ = ["ConsoleKit", "ConsoleUser", "NavItem"]
