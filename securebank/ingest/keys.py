"""API keys for the ingest service: created once, shown once, stored only as hashes.

A key reads `sbk_<id>_<secret>`; the store keeps the id, a SHA-256 of the whole key, a name, a
rate limit and when it was revoked (servers read the store on each request, so a revoked key is
refused from its next request). Keys are 256-bit random tokens, so a plain hash is enough (as for
GitHub tokens); comparison is constant-time. Nothing here ever logs a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "sbk_"
#: What a key may do: `ingest` sends transactions, `analyst` works cases and outcomes.
SCOPES = ("ingest", "analyst")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    digest: str
    rate_per_second: float
    burst: int
    created_at: str
    revoked_at: str | None = None
    #: Records written before scopes existed are ingest keys.
    scopes: tuple[str, ...] = ("ingest",)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a key shaped `sbk_<id>_<secret>`, else None.

    The id is hex and never holds `_`; the secret is URL-safe base64 and may, so only the first
    `_` after the id separates them.
    """
    if not key.startswith(PREFIX) or "_" not in key[len(PREFIX) :]:
        return None
    key_id, secret = key[len(PREFIX) :].split("_", 1)
    return (key_id, secret) if key_id and secret else None


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> dict[str, ApiKey]:
        if not self.path.is_file():
            return {}
        return {
            k: ApiKey(**{**v, "scopes": tuple(v.get("scopes", ("ingest",)))})
            for k, v in json.loads(self.path.read_text()).items()
        }

    def create(
        self,
        name: str,
        rate_per_second: float = 200.0,
        burst: int = 1000,
        scopes: tuple[str, ...] = ("ingest",),
    ) -> tuple[str, ApiKey]:
        """A new key: returns the key itself (shown once) and what is stored."""
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown or not scopes:
            raise ValueError(f"scopes must be some of {', '.join(SCOPES)} (got {list(scopes)})")
        key_id = secrets.token_hex(4)
        key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(
            key_id,
            name,
            _digest(key),
            rate_per_second,
            burst,
            datetime.now(UTC).isoformat(),
            scopes=tuple(dict.fromkeys(scopes)),
        )
        with self._lock:
            keys = self._load()
            keys[key_id] = record
            self._save(keys)
        return key, record

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke a key by its id: it is refused (403) from the next request on, by every server
        reading this store. Returns the revoked record, None when there is no such key."""
        with self._lock:
            keys = self._load()
            record = keys.get(key_id)
            if record is None:
                return None
            if record.revoked_at is None:
                record = keys[key_id] = replace(record, revoked_at=datetime.now(UTC).isoformat())
                self._save(keys)
            return record

    def _save(self, keys: dict[str, ApiKey]) -> None:
        """Write to a temporary file and rename, so that a reader never sees half a file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({k: asdict(v) for k, v in keys.items()}, indent=2))
        temporary.chmod(0o600)
        temporary.replace(self.path)

    def verify(self, key: str) -> ApiKey | None:
        """The key's record if the key is genuine, else None."""
        parts = split_key(key)
        if parts is None:
            return None
        record = self._load().get(parts[0])
        if record is None or not hmac.compare_digest(record.digest, _digest(key)):
            return None
        return None if record.revoked_at else record

    def list(self) -> list[ApiKey]:
        return list(self._load().values())
