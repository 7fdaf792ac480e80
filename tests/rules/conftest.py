"""Rule tables on the local AWS (moto's server), under names unique to each test."""

from __future__ import annotations

import itertools

import pytest

from securebank.aws import AwsClients
from securebank.resources import ResourceNames
from securebank.rules.store import RuleListStore, RuleSetStore, create_tables

_counter = itertools.count()


@pytest.fixture
def rule_stores(moto_endpoint):
    clients = AwsClients(region="us-east-1", endpoint_url=moto_endpoint, local=True)
    names = ResourceNames(prefix="sbrules", environment=f"t{next(_counter)}")
    dynamodb = clients.client("dynamodb")
    create_tables(dynamodb, names.rules_table, names.rule_lists_table)
    return RuleSetStore(dynamodb, names.rules_table), RuleListStore(
        dynamodb, names.rule_lists_table
    )
