"""demo: create a workspace holding the demo company."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cueva.cli.common import console


class ScaleChoice(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    path: Annotated[
        Path,
        typer.Argument(help="Folder for the demo workspace (created).", show_default=False),
    ],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
    scale: Annotated[
        ScaleChoice,
        typer.Option(help="small (5k people), medium (50k) or large (1M people, 10M touchpoints)."),
    ] = ScaleChoice.medium,
    force: Annotated[
        bool, typer.Option(help="Replace the demo files in an existing, non-empty folder.")
    ] = False,
) -> None:
    """Create a demo workspace: the fictional B2B company Altamira Cloud over 24 months
    (2024-12-01 to 2026-11-30), written as Parquet under PATH/data/ and imported into the store.
    The data hides known truths (see docs/demo.md) that the funnel, scorecard, attribution and
    gap analysis must find.

    Example: cueva demo ./demo --seed 7 --scale small
    """
    import pandas as pd

    from cueva.demo import create_demo
    from cueva.output import emit

    with console.status("creating the demo company") as status:
        result = create_demo(
            path, seed, scale.value, force=force, on_step=lambda msg: status.update(msg)
        )
    frame = pd.DataFrame({"table": list(result.rows), "rows": list(result.rows.values())})
    emit(frame, "table", console=console, title=f"Altamira Cloud S.L. ({scale.value}, seed {seed})")
    s = result.seconds
    console.print(
        f"generated in {s['generate']:.1f}s, wrote Parquet in {s['write']:.1f}s, "
        f"imported in {s['import']:.1f}s"
    )
    console.print(f"workspace: {result.path}  (contract cueva.yaml, data under data/)")
    console.print(
        "planted truths to find (a slow rep, a channel drop, a missed quarter...): docs/demo.md"
    )
    console.print(f"next: cueva funnel {result.path} --by channel")
