"""Shared fixtures: simulated data, and the local AWS (the real local stack over HTTP)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings as hypothesis_settings

from securebank.data.simulator.generate import SimulationConfig, simulate

# CI must not fail by chance: there, property tests draw the same examples every run (a bug they
# can find is still found on developers' machines, where each run draws new ones).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def simulated_50k():
    """50,000 simulated transactions and their labels (built once per test session)."""
    transactions, labels, summary = simulate(SimulationConfig(transactions=50_000, seed=11))
    return transactions, labels, summary


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server on 127.0.0.1 (a real HTTP server), for the whole test session."""
    from moto.server import ThreadedMotoServer

    from securebank.local.sagemaker_server import patch_moto

    patch_moto()  # as the local stack runs it
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory):
    """The local stack of `securebank stack up` (dynalite, kinesalite, MiniStack, moto), started
    once per test session in a folder of its own and stopped at the end."""
    from securebank.local import stack as local_stack

    home = tmp_path_factory.mktemp("local-aws")
    stack = local_stack.start(home)
    yield stack
    local_stack.stop(home)


@pytest.fixture
def aws(local_aws, request):
    """Clients on the local AWS, with the platform's resources under a name unique to the test."""
    import hashlib
    import re

    from securebank.aws import AwsClients
    from securebank.local import stack as local_stack
    from securebank.resources import ResourceNames

    clients = AwsClients(
        region="us-east-1",
        endpoint_url=local_aws.url,
        local=True,
        service_endpoints=local_aws.service_endpoints,
    )
    # 8 characters of the test's name and 4 of its hash: parametrized cases get their own.
    digest = hashlib.sha1(request.node.name.encode()).hexdigest()[:4]
    env = (re.sub(r"[^a-z0-9]", "", request.node.name.lower())[:8] or "t") + digest
    names = ResourceNames(prefix="sbtest", environment=env)
    local_stack.provision(clients, names)
    clients.names = names  # type: ignore[attr-defined]
    return clients
