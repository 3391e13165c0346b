"""Operator authentication: bearer operator tokens and the ``SYNCFLOW_ADMIN_TOKEN``.

Other features protect their endpoints with the ``Operator`` alias from
:mod:`syncflow.auth.dependencies`.
"""
