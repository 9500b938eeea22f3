"""``cgz models``: the spec names, their parameters and what each needs."""

from __future__ import annotations


def add_parser(sub):
    return sub.add_parser("models", help="list model specs and their dependencies")


def run(args) -> int:
    from rich.table import Table

    from ..registry import dependency_status, entries
    from .score import console

    table = Table(title="model specs",
                  caption="spec grammar NAME[:ARG][:KEY=VALUE]...; every codec also takes window=N, temperature=T")
    for col in ("spec", "what", "parameters", "needs", "ready"):
        table.add_column(col)
    for e in entries():
        ok, missing = dependency_status(e)
        name = e.name + (f" ({', '.join(e.aliases)})" if e.aliases else "")
        table.add_row(name, e.summary, e.params, ", ".join(e.needs),
                      "yes" if ok else f"[red]missing {', '.join(missing)}[/red]")
    console().print(table)
    return 0
