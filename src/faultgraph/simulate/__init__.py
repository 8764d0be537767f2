"""Simulated systems with known ground truth, for tests, benchmarks and the demo."""

from faultgraph.simulate.case import SimulatedGraph, simulate_graph_data, simulate_labelled_faults, write_labelled_faults
from faultgraph.simulate.microservices import Incident, parse_link_delay, scrape, simulate_incident
from faultgraph.simulate.graphs import simulate_dag, simulate_lagged_sem, simulate_linear_sem, simulate_weights

__all__ = [
    "Incident",
    "parse_link_delay",
    "SimulatedGraph",
    "simulate_dag",
    "simulate_graph_data",
    "simulate_incident",
    "simulate_labelled_faults",
    "simulate_lagged_sem",
    "simulate_linear_sem",
    "simulate_weights",
    "scrape",
    "write_labelled_faults",
]
