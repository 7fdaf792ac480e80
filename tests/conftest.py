"""Shared fixtures."""

from __future__ import annotations

import pytest

from securebank.simulator.generate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def simulated_50k():
    """50,000 simulated transactions and their labels (built once per test session)."""
    transactions, labels, summary = simulate(SimulationConfig(transactions=50_000, seed=11))
    return transactions, labels, summary
