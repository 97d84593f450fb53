"""Dependencies point inward: the domain knows no HTTP, SQL, PKCS#11 or crypto library; SQL
stays in storage/ packages; the envelope library stands apart from the KMS."""

from __future__ import annotations

import ast
from pathlib import Path

import strongroom

SRC = Path(strongroom.__file__).parent
FORBIDDEN_IN_DOMAIN = (
    "sqlalchemy",
    "cryptography",
    "pkcs11",
    "uvicorn",
    "httptools",
    "orjson",
    "botocore",
    "strongroom.kms.storage",
    "strongroom.kms.keystores",
    "strongroom.kms.api",
    "strongroom.kms.service",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # ``from strongroom import kms`` imports the package ``strongroom.kms``.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_domain_imports_nothing_outward() -> None:
    files = sorted((SRC / "kms" / "domain").glob("*.py"))
    assert len(files) >= 8
    for path in files:
        bad = {n for n in _imports(path) if n.startswith(FORBIDDEN_IN_DOMAIN)}
        assert not bad, f"{path.name} imports {bad}"


def test_service_layer_knows_no_http() -> None:
    for path in sorted((SRC / "kms" / "service").glob("*.py")):
        bad = {
            n
            for n in _imports(path)
            if n.startswith(("uvicorn", "httptools", "strongroom.kms.api"))
        }
        assert not bad, f"{path.name} imports {bad}"


def test_object_store_is_a_client_of_the_kms() -> None:
    """The object store reaches the KMS only through ``strongroom.client``; only its storage
    package speaks SQL."""
    files = sorted((SRC / "objectstore").rglob("*.py"))
    assert len(files) >= 15
    for path in files:
        names = _imports(path)
        assert not {n for n in names if n.startswith("strongroom.kms")}, path
        if "storage" not in path.relative_to(SRC).parts:
            assert not {n for n in names if n.startswith("sqlalchemy")}, path
    for path in sorted((SRC / "client").glob("*.py")):
        assert not {n for n in _imports(path) if n.startswith("strongroom.kms")}, path


def _is_storage(path: Path) -> bool:
    return "storage" in path.relative_to(SRC).parts[:-1]


def test_sql_only_in_storage_packages() -> None:
    checked = 0
    for path in sorted(SRC.rglob("*.py")):
        if _is_storage(path):
            continue
        checked += 1
        bad = {n for n in _imports(path) if n.split(".")[0] == "sqlalchemy"}
        assert not bad, f"{path.relative_to(SRC)} imports {bad}: SQL belongs in a storage/ package"
    assert checked > 100


def test_storage_imports_no_layer_above_it() -> None:
    storage_files = sorted(p for p in SRC.rglob("*.py") if _is_storage(p))
    assert len(storage_files) >= 15
    for path in storage_files:
        parts = path.relative_to(SRC).parts
        package = ".".join(("strongroom", *parts[: parts.index("storage") + 1]))
        # A storage package reads and writes its own layer's values: the KMS's domain, the
        # object store's records.
        allowed = (package, "strongroom.kms.domain", "strongroom.objectstore.records")
        bad = {
            n for n in _imports(path) if n.startswith("strongroom") and not n.startswith(allowed)
        }
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_envelope_imports_nothing_of_the_kms() -> None:
    files = sorted((SRC / "envelope").rglob("*.py"))
    assert len(files) >= 5
    for path in files:
        bad = {n for n in _imports(path) if n.startswith("strongroom.kms")}
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_modules_stay_small() -> None:
    for path in SRC.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 500, path


def test_console_reaches_the_kms_only_through_its_client_interface() -> None:
    """The web console is a client: no import of the KMS's service, storage or key stores.

    It gets an authenticator and a KMS-operations object from the composition root, and every
    page goes through them (the pipeline), so it cannot grow a side door.
    """
    files = sorted((SRC / "console").rglob("*.py"))
    assert len(files) >= 8
    for path in files:
        bad = {
            n for n in _imports(path) if n == "strongroom.kms" or n.startswith("strongroom.kms.")
        }
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_sigv4_primitives_belong_to_neither_api() -> None:
    """``strongroom.sigv4`` is shared by the KMS and the object store: it imports neither."""
    files = sorted((SRC / "sigv4").glob("*.py"))
    assert len(files) >= 3
    for path in files:
        bad = {
            n for n in _imports(path) if n.startswith(("strongroom.kms", "strongroom.objectstore"))
        }
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"
