"""API keys and what their holders may do: roles, and a scope of one model or one building.

Keys are stored only as SHA-256 hashes, in a YAML key file (mode 0600) that `kgtwin keys create`
writes, or given in `KGTWIN_API_KEYS` as `name:key:role+role[:model[:building]]` entries separated
by commas (for deployments that pass secrets through the environment). A key is shown once, when
it is created; it is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from kgtwin.errors import ConfigError, KgtwinError

ROLES = ("viewer", "operator", "analyst", "admin")
# What each role may do; roles add up.
CAPABILITIES = {
    "viewer": {"read"},
    "operator": {"read", "mutate", "ingest"},
    "analyst": {"read", "analyse"},
    "admin": {"read", "mutate", "ingest", "analyse", "write_cypher", "admin"},
}


class Unauthorised(KgtwinError):
    """No valid key: HTTP 401."""

    exit_code = 2


class Forbidden(KgtwinError):
    """A valid key whose roles or scope do not allow the operation: HTTP 403."""

    exit_code = 2


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]
    model: str | None = None  # a key scoped to one model sees and changes only it
    building: str | None = None  # ... or only one building of it (a building uid)

    @property
    def capabilities(self) -> set[str]:
        return set().union(*(CAPABILITIES[r] for r in self.roles))

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str, action: str) -> None:
        if not self.can(capability):
            raise Forbidden(f"key {self.name!r} ({', '.join(sorted(self.roles))}) may not {action}")

    def sees(self, model: str | None, building: str | None = None, uid: str | None = None) -> bool:
        """Whether a node of this model and building (or the building itself) is inside the key's scope."""
        if self.model is not None and model != self.model:
            return False
        return self.building is None or self.building in (building, uid)

    def require_sight(self, model: str | None, building: str | None, uid: str | None, what: str) -> None:
        if not self.sees(model, building, uid):
            # the same answer as for a node that does not exist: a scoped key learns nothing outside it
            raise Forbidden(f"no {what} {uid!r} within the scope of key {self.name!r}")

    @property
    def scope_params(self) -> dict[str, str | None]:
        return {"scopeModel": self.model, "scopeBuilding": self.building}


@dataclass(frozen=True)
class KeyEntry:
    name: str
    digest: str  # sha256 hex of the key
    roles: tuple[str, ...]
    model: str | None = None
    building: str | None = None

    def principal(self) -> Principal:
        return Principal(self.name, frozenset(self.roles), self.model, self.building)


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_roles(roles: Iterable[str], where: str) -> tuple[str, ...]:
    roles = tuple(roles)
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ConfigError(f"{where}: roles must be some of {', '.join(ROLES)} (got {', '.join(roles) or 'none'})")
    return roles


class KeyRing:
    """The keys a service accepts; a key file that changes (a key created or revoked) is read again."""

    def __init__(self, entries: Iterable[KeyEntry], key_file: Path | None = None, env_keys: str | None = None) -> None:
        self._by_digest = {e.digest: e for e in entries}
        self._key_file = key_file
        self._env_keys = env_keys
        self._stamp = _stamp(key_file)
        self._checked = time.monotonic()

    def __len__(self) -> int:
        return len(self._by_digest)

    def reload(self) -> None:
        if self._key_file is not None:
            fresh = KeyRing.load(self._key_file, self._env_keys)
            self._by_digest, self._stamp = fresh._by_digest, fresh._stamp

    def _follow_file(self) -> None:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            if _stamp(self._key_file) != self._stamp:
                self.reload()

    def authenticate(self, key: str | None) -> Principal:
        self._follow_file()
        if not key:
            raise Unauthorised("an API key is required: send it as 'Authorization: Bearer <key>' or 'X-API-Key'")
        wanted = digest_of(key)
        for digest, entry in self._by_digest.items():  # compare every digest in constant time
            if hmac.compare_digest(digest, wanted):
                return entry.principal()
        raise Unauthorised("that API key is not valid")

    @classmethod
    def load(cls, key_file: Path, env_keys: str | None = None) -> KeyRing:
        entries = list(read_key_file(key_file)) if key_file.exists() else []
        for number, item in enumerate(filter(None, (s.strip() for s in (env_keys or "").split(","))), 1):
            parts = item.split(":")
            if len(parts) < 3 or not parts[0] or not parts[1]:
                raise ConfigError(f"KGTWIN_API_KEYS entry {number} is not name:key:role+role[:model[:building]]")
            roles = check_roles(parts[2].split("+"), f"KGTWIN_API_KEYS entry {number}")
            model = parts[3] or None if len(parts) > 3 else None
            building = ":".join(parts[4:]) or None if len(parts) > 4 else None
            entries.append(KeyEntry(parts[0], digest_of(parts[1]), roles, model, building))
        return cls(entries, key_file, env_keys)


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        info = path.stat() if path is not None else None
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size) if info else None


def read_key_file(path: Path) -> list[KeyEntry]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the API key file ({str(exc).splitlines()[0]})") from None
    entries = []
    for number, item in enumerate(data.get("keys") or [], 1):
        where = f"{path}, key {number}"
        if not isinstance(item, dict) or not item.get("name") or not item.get("sha256"):
            raise ConfigError(f"{where}: every key needs a name and a sha256")
        roles = check_roles(item.get("roles") or [], where)
        entries.append(KeyEntry(item["name"], item["sha256"], roles, item.get("model"), item.get("building")))
    return entries


def create_key(
    path: Path, name: str, roles: Iterable[str], model: str | None = None, building: str | None = None
) -> str:
    """Add a key to the key file and return it (the only time it is seen)."""
    roles = check_roles(roles, "kgtwin keys create")
    if building and not model:
        raise ConfigError("a key scoped to a building needs its model too (--model)")
    entries = read_key_file(path) if path.exists() else []
    if any(e.name == name for e in entries):
        raise ConfigError(f"a key named {name!r} exists already; revoke it first or pick another name")
    key = "kgt_" + secrets.token_urlsafe(32)
    entries.append(KeyEntry(name, digest_of(key), roles, model, building))
    write_key_file(path, entries)
    return key


def revoke_key(path: Path, name: str) -> bool:
    entries = read_key_file(path) if path.exists() else []
    kept = [e for e in entries if e.name != name]
    if len(kept) == len(entries):
        return False
    write_key_file(path, kept)
    return True


def write_key_file(path: Path, entries: list[KeyEntry]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "keys": [
            {
                "name": e.name,
                "sha256": e.digest,
                "roles": list(e.roles),
                **({"model": e.model} if e.model else {}),
                **({"building": e.building} if e.building else {}),
            }
            for e in entries
        ]
    }
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    temporary.replace(path)
