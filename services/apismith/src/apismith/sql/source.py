"""The saved query as the derived table ``q`` that every runtime query selects from."""

from sqlglot import exp

SOURCE_ALIAS = "q"


def source_column(name: str) -> exp.Column:
    """``q."name"``: an output column of the saved query, always quoted (spaces, case, keywords)."""
    # the alias is unquoted both here and where it is declared, so Oracle folds both to Q
    return exp.Column(
        this=exp.Identifier(this=name, quoted=True),
        table=exp.Identifier(this=SOURCE_ALIAS, quoted=False),
    )


def select_from_source(query: exp.Query) -> exp.Select:
    """``SELECT * FROM (<query>) q``, with the saved query's CTEs lifted to the top.

    T-SQL allows no WITH inside a derived table, and a top-level WITH is valid in
    every dialect. An ORDER BY without a row limit is dropped from the inner query:
    the outer query orders, and T-SQL refuses ORDER BY in a derived table.
    """
    inner = query.copy()
    ctes = inner.args.get("with_")
    inner.set("with_", None)
    if not any(inner.args.get(clause) for clause in ("limit", "offset", "fetch")):
        inner.set("order", None)
    derived = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(SOURCE_ALIAS)))
    select = exp.select("*").from_(derived)
    if ctes is not None:
        select.set("with_", ctes)
    return select
