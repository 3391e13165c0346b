"""User authentication both services share: argon2 passwords, JWTs, request dependency
openings, and users (sign-in, refresh, creating and listing them: ``users/``).

Each service keeps its own users table and migrations, its roles and its own tokens
(APISmith's service tokens, SyncFlow's operator tokens); this package holds the parts
that must not differ between them (how a password is hashed, how a token is signed and
checked, how a bearer header is read into verified claims, how a user signs in).
"""
