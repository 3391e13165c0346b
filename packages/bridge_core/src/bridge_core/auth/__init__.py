"""User authentication both services share: argon2 passwords, JWTs, request dependency openings.

Each service keeps its own users table, roles and login flow; this package holds the
parts that must not differ between them (how a password is hashed, how a token is
signed and checked, how a bearer header is read into verified claims).
"""
