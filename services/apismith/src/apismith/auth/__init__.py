"""Authentication and authorization: users, logins, JWTs, service tokens and roles.

Other features protect their endpoints with the ``Reader`` and ``Admin`` aliases
from :mod:`apismith.auth.dependencies`.
"""
