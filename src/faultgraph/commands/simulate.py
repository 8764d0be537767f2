"""``faultgraph simulate ...``: systems with a known causal graph (thin: parse, simulate, write)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from faultgraph._cli import errors, say

__all__ = ["register", "simulate_app", "simulate_faults", "simulate_graph", "simulate_incident_cmd"]

simulate_app = typer.Typer(help="Simulate systems with a known causal graph.", no_args_is_help=True)


@simulate_app.command("graph")
def simulate_graph(
    out: Annotated[Path, typer.Option("--out", help="Folder to write data.csv and truth.json into.")],
    kind: Annotated[str, typer.Option(help="er: Erdős–Rényi; sf: scale-free.")] = "er",
    nodes: Annotated[int, typer.Option(min=2, help="Number of variables.")] = 10,
    degree: Annotated[float, typer.Option(min=0.1, help="Expected edges per node (ER2: 2).")] = 2.0,
    samples: Annotated[int, typer.Option(min=2, help="Rows to draw.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
    noise: Annotated[str, typer.Option(help="Noise distribution: gauss, exp or gumbel.")] = "gauss",
    unequal_variance: Annotated[bool, typer.Option(help="Draw each node's noise scale from U[0.5, 2].")] = False,
) -> None:
    """Simulate a random DAG with a linear SEM: writes DIR/data.csv and DIR/truth.json."""
    from faultgraph.simulate import simulate_graph_data

    with errors():
        sim = simulate_graph_data(kind=kind, nodes=nodes, degree=degree, samples=samples,  # type: ignore[arg-type]
                                  noise=noise, equal_variance=not unequal_variance,  # type: ignore[arg-type]
                                  random_state=seed)
        data_path, truth_path = sim.write(out)
        say(f"wrote {data_path} ({samples} rows x {nodes} metrics) and {truth_path} "
            f"({int((sim.W != 0).sum())} true edge{'' if int((sim.W != 0).sum()) == 1 else 's'})")


@simulate_app.command("faults")
def simulate_faults(
    out: Annotated[Path, typer.Option("--out", help="Folder to write data.csv and truth.json into.")],
    nodes: Annotated[int, typer.Option(min=3, help="Number of metrics.")] = 20,
    samples: Annotated[int, typer.Option(min=10, help="Rows to draw.")] = 2000,
    causes: Annotated[int, typer.Option(min=1, help="Metrics that cause the fault label.")] = 3,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
) -> None:
    """Simulate metrics plus a 0/1 `fault` label caused by a few of them (known causes)."""
    from faultgraph.simulate import write_labelled_faults

    with errors():
        data, cause_names = write_labelled_faults(out, nodes=nodes, samples=samples, n_causes=causes,
                                                  random_state=seed)
        say(f"wrote {out / 'data.csv'} ({samples} rows, {nodes} metrics + fault, "
            f"{data['fault'].mean():.0%} faulty); causes: {', '.join(cause_names)}")


@simulate_app.command("incident")
def simulate_incident_cmd(
    out: Annotated[Path, typer.Option("--out", help="Case folder to write (normal.csv, anomalous.csv, truth.json).")],
    services: Annotated[int, typer.Option(min=3, max=200, help="Number of services.")] = 10,
    fault: Annotated[Optional[str], typer.Option(
        help="cpu_hog, memory_leak, network_delay or error_burst (default: drawn).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
    delay: Annotated[str, typer.Option(
        help="Extra steps (20 ms each) before an effect crosses a service link: N, or LO:HI drawn per link.")] = "0",
    jitter: Annotated[float, typer.Option(
        min=0.0, max=0.5, help="Share of samples that arrive late and share that are lost (also per-metric scrape "
                               "phases); the files then hold raw timestamps: use --resample 1 downstream, with a "
                               "larger --max-gap above about 0.15, where lost and late samples leave longer "
                               "gaps.")] = 0.0,
) -> None:
    """Simulate a microservice incident with a known root cause."""
    from faultgraph.simulate import parse_link_delay, simulate_incident

    with errors():
        inc = simulate_incident(services=services, fault_type=fault,  # type: ignore[arg-type]
                                link_delay=parse_link_delay(delay, "--delay"), jitter=jitter, random_state=seed)
        inc.write(out)
        say(f"wrote {out}/ ({services} services, {inc.normal.shape[1]} metrics): {inc.fault_type} at "
            f"{inc.root_cause_service} from step {inc.fault_start}")


def register(app: typer.Typer) -> None:
    """Add ``simulate graph|faults|incident`` to ``app``."""
    app.add_typer(simulate_app, name="simulate")
