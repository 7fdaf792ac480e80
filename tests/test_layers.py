"""The layers of the code, guarded by reading every import statement (nothing is imported).

Each module belongs to one layer; a module may import its own layer and those below it, never
one above. From the bottom:

0. kernel: what every folder shares (the transaction contract, PAN detection, reference data,
   decisions, resource names, settings, retry, the model artifact).
1. domain: pure logic over the kernel: features, the rules language, datasets and the simulator,
   case/label/performance models, routing and rollouts of the endpoint, the pipeline's step list.
2. adapters: what talks to AWS or other processes, taking its client as an argument: boto3 and
   botocore appear only in `BOTO_ADAPTERS`, all of this layer.
3. services: the use cases built from the layers below: training, the pipeline runners, the
   model server, the stream scorer, analytics, cases, labels, monitoring, ingest, the console.
4. entry points: the Lambda handlers, the container image's command and the local SageMaker
   server process.
5. cli: the `securebank` command, the composition root: the top, imported by nothing else.

Besides, `inference` never imports `training` (the model server must not carry the trainer).

Modules are found through `pyproject.toml`'s `package-dir` (`lambda/scorer` is
`securebank.scorer`); every module must be given a layer here, so a new one is placed on purpose.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

KERNEL, DOMAIN, ADAPTERS, SERVICES, ENTRY, CLI = range(6)
LAYER_NAMES = ("kernel", "domain", "adapters", "services", "entry points", "cli")

#: Module (or package: the entry covers everything under it) -> layer; the longest match wins.
#: `securebank` itself covers only the (empty) root package.
LAYERS: dict[str, int] = {
    "securebank": KERNEL,
    "securebank.contract": KERNEL,
    "securebank.pan": KERNEL,
    "securebank.reference": KERNEL,
    "securebank.decision": KERNEL,
    "securebank.resources": KERNEL,
    "securebank.settings": KERNEL,
    "securebank.retry": KERNEL,
    "securebank.model_artifact": KERNEL,
    # domain
    "securebank.features": DOMAIN,
    "securebank.data": DOMAIN,
    "securebank.cost": DOMAIN,
    "securebank.rules.expression": DOMAIN,
    "securebank.rules.ruleset": DOMAIN,
    "securebank.rules.active": DOMAIN,
    "securebank.cases.model": DOMAIN,
    "securebank.labels.model": DOMAIN,
    "securebank.monitoring.performance": DOMAIN,
    "securebank.monitoring.emf": DOMAIN,
    "securebank.monitoring.retrain": DOMAIN,
    "securebank.inference.payload": DOMAIN,
    "securebank.inference.explain": DOMAIN,
    "securebank.inference.endpoint": DOMAIN,
    "securebank.inference.rollout": DOMAIN,
    "securebank.pipelines.steps": DOMAIN,
    "securebank.scorer.records": DOMAIN,
    "securebank.analytics.drift": DOMAIN,
    "securebank.analytics.queries": DOMAIN,
    "securebank.analytics.warehouse": DOMAIN,
    # adapters
    "securebank.aws": ADAPTERS,
    "securebank.ddb": ADAPTERS,
    "securebank.s3io": ADAPTERS,
    "securebank.registry": ADAPTERS,
    "securebank.scorer.shards": ADAPTERS,
    "securebank.graceful": ADAPTERS,
    "securebank.data.upload": ADAPTERS,
    "securebank.local": ADAPTERS,
    "securebank.rules.store": ADAPTERS,
    "securebank.cases.store": ADAPTERS,
    "securebank.labels.store": ADAPTERS,
    "securebank.ingest.idempotency": ADAPTERS,
    "securebank.ingest.keys": ADAPTERS,
    "securebank.analytics.lake": ADAPTERS,
    "securebank.analytics.compaction": ADAPTERS,
    "securebank.inference.sagemaker_endpoint": ADAPTERS,
    "securebank.inference.capture": ADAPTERS,
    "securebank.scorer.state_store": ADAPTERS,
    "securebank.scorer.decision_store": ADAPTERS,
    "securebank.scorer.fanout": ADAPTERS,
    "securebank.scorer.scoring": ADAPTERS,
    # services
    "securebank.training": SERVICES,
    "securebank.pipelines": SERVICES,
    "securebank.inference": SERVICES,
    "securebank.scorer": SERVICES,
    "securebank.analytics": SERVICES,
    "securebank.cases": SERVICES,
    "securebank.labels": SERVICES,
    "securebank.monitoring": SERVICES,
    "securebank.ingest": SERVICES,
    "securebank.console": SERVICES,
    "securebank.rules": SERVICES,
    "securebank.rules.challenger": SERVICES,
    # entry points, and the CLI above them
    "securebank.cli": CLI,
    "securebank.image": ENTRY,
    "securebank.local.sagemaker_server": ENTRY,
    "securebank.scorer.handler": ENTRY,
    "securebank.cases.handler": ENTRY,
    "securebank.labels.handler": ENTRY,
    "securebank.monitoring.handler": ENTRY,
}

#: The only modules that may import boto3 or botocore (each in the adapters layer).
BOTO_ADAPTERS = frozenset(
    {
        "securebank.aws",
        "securebank.ddb",
        "securebank.s3io",
        "securebank.scorer.shards",
        "securebank.local.event_source",
        "securebank.local.stack",
        "securebank.rules.store",
        "securebank.analytics.compaction",
        "securebank.inference.sagemaker_endpoint",
        "securebank.scorer.state_store",
        "securebank.scorer.decision_store",
        "securebank.scorer.scoring",
    }
)

#: (importer package, imported package) pairs refused whatever the layers say.
FORBIDDEN = (("securebank.inference", "securebank.training"),)


def package_dirs() -> dict[str, Path]:
    """Import name -> folder, from pyproject.toml's setuptools `package-dir`."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = pyproject["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items()}


def module_sources(dirs: Mapping[str, Path]) -> tuple[dict[str, str], frozenset[str]]:
    """Every module's dotted name -> its source, and which of them are packages (`__init__`).

    A folder mapped to a package of its own is read under that name only."""
    sources: dict[str, str] = {}
    packages: set[str] = set()
    for package, folder in dirs.items():
        others = [d for p, d in dirs.items() if p != package and d.is_relative_to(folder)]
        for path in sorted(folder.rglob("*.py")):
            if any(path.is_relative_to(d) for d in others):
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
                packages.add(".".join([package, *parts]))
            sources[".".join([package, *parts])] = path.read_text(encoding="utf-8")
    return sources, frozenset(packages)


def imports(module: str, source: str, is_package: bool = False) -> list[tuple[str, int]]:
    """(imported name, line) of every import in `source`, functions' lazy imports included.

    `from a.b import c` yields `a.b.c` (a module or a name in `a.b`); relative imports are
    resolved against `module`.
    """
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def layer_of(module: str, layers: Mapping[str, int] = LAYERS) -> int | None:
    if module == "securebank":
        return layers.get("securebank")
    matches = [
        k for k in layers if k != "securebank" and (module == k or module.startswith(k + "."))
    ]
    return layers[max(matches, key=len)] if matches else None


def _target(name: str, known: Iterable[str]) -> str | None:
    """The project module an imported name lives in (the longest known prefix), or None."""
    parts = name.split(".")
    known = set(known)
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def violations(
    sources: Mapping[str, str],
    layers: Mapping[str, int] = LAYERS,
    boto_adapters: frozenset[str] = BOTO_ADAPTERS,
    forbidden: Iterable[tuple[str, str]] = FORBIDDEN,
    packages: frozenset[str] = frozenset(),
) -> list[str]:
    """Every broken rule, one line each (empty when the code keeps its layers)."""
    problems: list[str] = []
    for module, source in sorted(sources.items()):
        own = layer_of(module, layers)
        if own is None:
            problems.append(f"{module}: not given a layer in tests/test_layers.py")
            continue
        for name, line in imports(module, source, module in packages):
            top = name.split(".")[0]
            if top in ("boto3", "botocore") and module not in boto_adapters:
                problems.append(f"{module}:{line} imports {name}: boto3 only in BOTO_ADAPTERS")
            target = _target(name, sources)
            if target is None or target == module:
                continue
            theirs = layer_of(target, layers)
            if theirs is not None and theirs > own:
                problems.append(
                    f"{module}:{line} ({LAYER_NAMES[own]}) imports {target} "
                    f"({LAYER_NAMES[theirs]}), a layer above"
                )
            for low, high in forbidden:
                inside = module == low or module.startswith(low + ".")
                if inside and (target == high or target.startswith(high + ".")):
                    problems.append(f"{module}:{line} imports {target}: {low} never imports {high}")
    return problems


def _project() -> tuple[dict[str, str], frozenset[str]]:
    return module_sources(package_dirs())


def test_every_module_keeps_to_its_layer():
    sources, packages = _project()
    assert len(sources) > 150  # the whole project was read, lambda/scorer included
    assert "securebank.scorer.handler" in sources and "securebank.features.online" in sources
    assert violations(sources, packages=packages) == []


def test_the_layer_table_names_only_modules_that_exist():
    sources, _ = _project()
    stale = [k for k in LAYERS if not any(m == k or m.startswith(k + ".") for m in sources)]
    assert stale == []
    assert all(layer_of(m) == ADAPTERS for m in BOTO_ADAPTERS)
    assert all(m in sources for m in BOTO_ADAPTERS)


def test_the_checker_catches_each_kind_of_violation():
    sources = {
        "securebank.features.fake": (
            "from securebank.contract import parse_transaction\n"  # down: fine
            "def f():\n"
            "    from securebank.cli.app import main\n"  # up, lazily
            "    import boto3\n"  # boto3 outside the adapters
        ),
        "securebank.inference.fake": "from securebank.training import train\n",
        "securebank.aws": "import boto3\nfrom securebank.settings import Settings\n",
        "securebank.newthing": "import json\n",
        "securebank.contract": "",
        "securebank.settings": "",
        "securebank.cli.app": "from securebank.features import fake\n",  # down: fine
        "securebank.scorer.handler": "from securebank.cli import app\n",  # an entry point: up
        "securebank.training": "",
        "securebank.training.train": "",
    }
    found = violations(sources, packages=frozenset({"securebank.training"}))
    assert len(found) == 5, found
    assert any(v.startswith("securebank.scorer.handler:1 (entry points)") for v in found)
    assert any("securebank.features.fake:3" in v and "a layer above" in v for v in found)
    assert any("securebank.features.fake:4" in v and "boto3" in v for v in found)
    # inference (services) -> training (services) is within the layer: only the extra rule bites
    assert any("securebank.inference.fake:1" in v and "never imports" in v for v in found)
    assert any(v.startswith("securebank.newthing: not given a layer") for v in found)
    assert not any(v.startswith("securebank.aws") or v.startswith("securebank.cli") for v in found)


def test_relative_imports_are_resolved():
    assert imports("securebank.cases.store", "from .model import Case\n") == [
        ("securebank.cases.model.Case", 1)
    ]
    assert imports("securebank.cases", "from . import store\n", is_package=True) == [
        ("securebank.cases.store", 1)
    ]
    found = violations(
        {"securebank.contract": "from .cli import app\n", "securebank.cli": ""},
    )
    assert found == ["securebank.contract:1 (kernel) imports securebank.cli (cli), a layer above"]
