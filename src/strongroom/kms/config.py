"""Typed settings from a TOML file and ``STRONGROOM_*`` environment variables, validated once.

Precedence: command-line flags (applied by the CLI) > environment > TOML file > defaults.
The TOML file is ``<data_dir>/strongroom.toml`` unless ``STRONGROOM_CONFIG`` names another.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from strongroom.kms.domain.external_key_stores import XksTransport

DEFAULT_DATA_DIR = Path("./strongroom-data")
_REGION_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


class ConfigError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = 8080
    # The default region: of in-process calls that name none, and of the first start's
    # generated AWS config. Requests are served in any region of ``regions``.
    region: str = "us-east-1"
    # The regions served, comma-separated; empty: every region of botocore's "aws" partition
    # (kms/regions.py). The default region is always served.
    regions: str = ""
    workers: int = 2
    database_url: str = ""  # empty: SQLite in the data directory
    max_body_bytes: int = 512 * 1024
    # Limits against anyone who can connect (api/http_limits.py, docs/security.md).
    max_header_bytes: int = 16 * 1024  # request line + headers of one request
    max_headers: int = 100
    header_timeout_seconds: float = 10.0  # the head, from its first byte (and from connect)
    body_timeout_seconds: float = 30.0  # the body, from the end of the head
    keep_alive_timeout_seconds: int = 30  # an idle kept-alive connection is closed
    max_connections: int = 1000  # per worker; beyond: 503 ServiceUnavailable
    cache_poll_seconds: float = 0.2
    # How long cached keys keep serving after the change feed was last read (the database
    # is unreachable): the staleness bound while a node cannot see the database.
    cache_outage_grace_seconds: float = 5.0
    scheduler_seconds: float = 5.0
    max_clock_skew_seconds: int = 300
    # Development only: accept any well-formed SigV4 request, whatever the access key and
    # secret (the access key id picks the account, as local AWS emulators do). Refused on a
    # non-loopback address. See docs/security.md.
    dev_credentials: bool = False
    log_level: str = "info"
    # One log line per KMS API request on standard error (api/request_log.py): "off", "json"
    # or "text" (key=value); request_log_level "info" (every request), "warning" (failed
    # ones) or "error" (5xx only). node_name: the node in each line (empty: the host name).
    request_log: str = "off"
    request_log_level: str = "info"
    node_name: str = ""
    # Request quotas per account (api/quotas.py): "aws" (AWS's defaults) or "off". Requests
    # per second; quota_overrides: "CreateKey=50,ListKeys=1000"; quota_nodes: the nodes
    # sharing one database (each admits 1/quota_nodes).
    request_quotas: str = "aws"
    quota_cryptographic: float = 10000.0
    quota_asymmetric: float = 500.0  # requests with RSA keys
    quota_ecc: float = 300.0  # requests with ECC keys
    quota_overrides: str = ""
    quota_nodes: int = 1
    # TLS (docs/security.md): "self-signed" generates a pair in <data_dir>/tls; or give
    # tls_cert_file + tls_key_file. tls_names: more names or addresses for a generated pair.
    tls: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_names: str = ""
    # Plain HTTP on an address other machines can reach is refused unless this is set.
    allow_plain_http: bool = False
    # Where the default store's root key lives: "file" (root.key, the embedded default) or
    # "pkcs11" (a token key, see docs/keystores.md). The PIN is never a setting: it comes from
    # the file hsm_pin_file names, or else from the environment variable hsm_pin_env names.
    root_key: str = "file"
    hsm_module: str = ""
    hsm_token_label: str = ""
    hsm_key_label: str = "strongroom-root-v1"
    hsm_pin_file: str = ""
    hsm_pin_env: str = "STRONGROOM_HSM_PIN"
    # Rates of the exposure report's cost estimate (the source's figures).
    key_usd_month: float = 1.0
    hsm_usd_month: float = 1000.0
    # The S3 API on the same port: Host names ``<bucket>.<suffix>`` are virtual-hosted buckets
    # (empty: path style only); how long an S3 Bucket Key serves new objects and stays cached.
    s3_virtual_host_suffix: str = "localhost"
    s3_bucket_key_seconds: float = 300.0
    # The orphan blob sweep (objectstore/sweep.py): one sweep per period across all workers
    # and nodes; unreferenced files younger than the grace period are never removed.
    s3_sweep_seconds: float = 3600.0
    s3_sweep_grace_seconds: float = 3600.0
    # Where the object store writes encrypted object data; empty: <data_dir>/objects. Several
    # nodes serving S3 need one directory they all mount (docs/deployment.md).
    s3_data_dir: str = ""
    # The audit trail (kms/audit/policy.py, docs/adr/0013): "before-response" answers a call
    # once its event is committed; "buffered" commits every audit_flush_seconds (at most 1 s).
    audit_durability: str = "before-response"
    audit_flush_seconds: float = 0.5
    # Events a worker may hold in memory; beyond, calls are refused ("refuse") or served with
    # their events dropped and counted in the trail ("serve").
    audit_max_pending: int = 20_000
    audit_when_unavailable: str = "refuse"
    # Signed digest files (audit/digests.py) go here, one per audit_digest_seconds when the
    # chain moved; empty: <data_dir>/audit-digests. Put it where the database's writers cannot.
    audit_digest_dir: str = ""
    audit_digest_seconds: float = 60.0
    # Where `strongroom audit archive` writes archived segments; empty: <data_dir>/audit-archive.
    audit_archive_dir: str = ""

    # The KMIP server (docs/kmip.md): off while kmip_port is 0. TLS with client certificates
    # issued by kmip_client_ca_file (required); the server's own pair is kmip_cert_file and
    # kmip_key_file, or else one generated in <data_dir>/kmip. kmip_host: empty is host.
    kmip_port: int = 0
    kmip_host: str = ""
    kmip_cert_file: str = ""
    kmip_key_file: str = ""
    kmip_client_ca_file: str = ""
    # External key stores (docs/external-key-stores.md): how long a call to an XKS proxy may
    # take (AWS KMS: 250 ms), a CA bundle for proxies' certificates (empty: the system's), and
    # "https://proxy.example=http://127.0.0.1:9000,...": where to dial an endpoint instead
    # (a reverse proxy or a lab; plain http only there).
    xks_proxy_timeout_seconds: float = 0.25
    xks_proxy_ca_file: str = ""
    xks_proxy_connect_to: str = ""

    @property
    def xks(self) -> XksTransport:
        """How calls to XKS proxies are made (external key stores)."""
        return XksTransport(
            self.xks_proxy_timeout_seconds, self.xks_proxy_ca_file, self.xks_connect_to, self.region
        )

    @property
    def xks_connect_to(self) -> tuple[tuple[str, str], ...]:
        pairs = []
        for item in self.xks_proxy_connect_to.split(","):
            if item.strip():
                endpoint, _, target = item.strip().partition("=")
                pairs.append((endpoint.strip(), target.strip()))
        return tuple(pairs)

    @property
    def served_regions(self) -> frozenset[str]:
        """The regions requests may be made in (their SigV4 credential scope)."""
        from strongroom.kms.regions import partition_regions

        return frozenset(self._listed_regions() or partition_regions()) | {self.region}

    def _listed_regions(self) -> list[str]:
        return [r.strip() for r in self.regions.split(",") if r.strip()]

    @property
    def root_key_path(self) -> Path:
        return self.data_dir / "root.key"

    @property
    def s3_data_path(self) -> Path:
        return Path(self.s3_data_dir) if self.s3_data_dir else self.data_dir / "objects"

    @property
    def audit_archive_path(self) -> Path:
        return (
            Path(self.audit_archive_dir)
            if self.audit_archive_dir
            else self.data_dir / "audit-archive"
        )

    @property
    def audit_digest_path(self) -> Path:
        return (
            Path(self.audit_digest_dir)
            if self.audit_digest_dir
            else self.data_dir / "audit-digests"
        )

    def validated(self) -> Settings:
        if not 0 < self.port < 65536:
            raise ConfigError(f"port {self.port} is not between 1 and 65535")
        if not 1 <= self.workers <= 64:
            raise ConfigError(f"workers {self.workers} is not between 1 and 64")
        for region in (self.region, *self._listed_regions()):
            if not region or not set(region) <= _REGION_CHARS:
                raise ConfigError(f"region {region!r} is not a valid region name")
        if self.max_body_bytes < 64 * 1024:
            raise ConfigError("max_body_bytes must be at least 65536")
        if not 1024 <= self.max_header_bytes <= 1024 * 1024:
            raise ConfigError("max_header_bytes must be between 1024 and 1048576")
        if not 10 <= self.max_headers <= 1000:
            raise ConfigError("max_headers must be between 10 and 1000")
        for name in ("header_timeout_seconds", "body_timeout_seconds"):
            if not 1 <= getattr(self, name) <= 600:
                raise ConfigError(f"{name} must be between 1 and 600")
        if not 1 <= self.keep_alive_timeout_seconds <= 3600:
            raise ConfigError("keep_alive_timeout_seconds must be between 1 and 3600")
        if not 1 <= self.max_connections <= 1_000_000:
            raise ConfigError("max_connections must be between 1 and 1000000")
        # Changes must reach every worker within a second: poll at least twice a second.
        if not 0.01 <= self.cache_poll_seconds <= 0.5:
            raise ConfigError("cache_poll_seconds must be between 0.01 and 0.5")
        if not 0.5 <= self.cache_outage_grace_seconds <= 300:
            raise ConfigError("cache_outage_grace_seconds must be between 0.5 and 300")
        if self.scheduler_seconds <= 0:
            raise ConfigError("scheduler_seconds must be positive")
        self._validate_quotas()
        if self.tls not in ("", "self-signed"):
            raise ConfigError(f"tls {self.tls!r} is not 'self-signed' (or empty)")
        if self.tls and (self.tls_cert_file or self.tls_key_file):
            raise ConfigError(
                "tls = 'self-signed' and tls_cert_file/tls_key_file exclude each other"
            )
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("tls_cert_file and tls_key_file go together")
        self._validate_audit()
        self._validate_request_log()
        self._validate_kmip()
        self._validate_xks()
        if not 0 < self.s3_bucket_key_seconds <= 86400:
            raise ConfigError("s3_bucket_key_seconds must be between 0 and 86400")
        if self.s3_sweep_seconds <= 0 or self.s3_sweep_grace_seconds < 60:
            raise ConfigError(
                "s3_sweep_seconds must be positive and s3_sweep_grace_seconds at least 60"
            )
        if self.dev_credentials and not is_loopback(self.host):
            raise ConfigError(
                f"dev_credentials accepts requests signed with any secret; it is refused on "
                f"{self.host}, which is not a loopback address"
            )
        if self.root_key not in ("file", "pkcs11"):
            raise ConfigError(f"root_key {self.root_key!r} is not 'file' or 'pkcs11'")
        if self.root_key == "pkcs11" and not (
            self.hsm_module and self.hsm_token_label and self.hsm_key_label
        ):
            raise ConfigError(
                "root_key = 'pkcs11' needs hsm_module, hsm_token_label, hsm_key_label"
            )
        return self

    def _validate_quotas(self) -> None:
        from strongroom.kms.api.quotas import parse_overrides, quota_table

        if self.request_quotas not in ("aws", "off"):
            raise ConfigError(f"request_quotas {self.request_quotas!r} is not 'aws' or 'off'")
        rates = (self.quota_cryptographic, self.quota_asymmetric, self.quota_ecc)
        if min(rates) <= 0 or self.quota_nodes < 1:
            raise ConfigError("quotas must be positive and quota_nodes at least 1")
        try:
            parse_overrides(self.quota_overrides)
            quota_table(
                cryptographic=self.quota_cryptographic,
                asymmetric=self.quota_asymmetric,
                ecc=self.quota_ecc,
                overrides=self.quota_overrides,
                nodes=self.quota_nodes,
                workers=self.workers,
            )
        except ValueError as error:
            raise ConfigError(f"quota_overrides: {error}") from None

    def _validate_kmip(self) -> None:
        if not self.kmip_port:
            return
        if not 0 < self.kmip_port < 65536 or self.kmip_port == self.port:
            raise ConfigError(
                f"kmip_port {self.kmip_port} is not between 1 and 65535 or is the HTTP port"
            )
        if not self.kmip_client_ca_file:
            raise ConfigError(
                "kmip_port needs kmip_client_ca_file: the CA that issues KMIP client certificates"
            )
        if bool(self.kmip_cert_file) != bool(self.kmip_key_file):
            raise ConfigError("kmip_cert_file and kmip_key_file go together")

    def _validate_xks(self) -> None:
        if not 0.05 <= self.xks_proxy_timeout_seconds <= 30:
            raise ConfigError("xks_proxy_timeout_seconds must be between 0.05 and 30")
        for endpoint, target in self.xks_connect_to:
            if not endpoint.startswith("https://") or not target.startswith(
                ("https://", "http://")
            ):
                raise ConfigError(
                    "xks_proxy_connect_to takes https://<endpoint>=<http or https URL> pairs"
                )

    def _validate_audit(self) -> None:
        if self.audit_durability not in ("before-response", "buffered"):
            raise ConfigError(
                f"audit_durability {self.audit_durability!r} is not 'before-response' or 'buffered'"
            )
        if not 0.01 <= self.audit_flush_seconds <= 1.0:
            raise ConfigError("audit_flush_seconds must be between 0.01 and 1")
        if self.audit_max_pending < 100:
            raise ConfigError("audit_max_pending must be at least 100")
        if self.audit_digest_seconds < 1:
            raise ConfigError("audit_digest_seconds must be at least 1")
        if self.audit_when_unavailable not in ("refuse", "serve"):
            raise ConfigError(
                f"audit_when_unavailable {self.audit_when_unavailable!r} is not 'refuse' or 'serve'"
            )

    def _validate_request_log(self) -> None:
        if self.request_log not in ("off", "json", "text"):
            raise ConfigError(f"request_log {self.request_log!r} is not 'off', 'json' or 'text'")
        if self.request_log_level not in ("info", "warning", "error"):
            raise ConfigError(
                f"request_log_level {self.request_log_level!r} is not 'info', 'warning' or 'error'"
            )
        if len(self.node_name) > 255 or not all(c.isalnum() or c in "-_.:" for c in self.node_name):
            raise ConfigError("node_name: at most 255 letters, digits and - _ . :")

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply non-None overrides (from command-line flags)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given).validated()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE + _FALSE:
        return text in _TRUE
    raise ValueError(raw)


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    kinds: dict[str, Callable[[Any], Any]] = {
        "Path": Path,
        "int": int,
        "float": float,
        "str": str,
        "bool": _boolean,
    }
    try:
        return kinds[kind](raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name}={raw!r} is not a valid {kind}") from None


def config_file(directory: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The TOML file settings are read from: ``$STRONGROOM_CONFIG`` or the data directory's."""
    env = os.environ if environ is None else environ
    return Path(env.get("STRONGROOM_CONFIG", str(directory / "strongroom.toml")))


def load_settings(
    data_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    env = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    directory = data_dir or Path(env.get("STRONGROOM_DATA_DIR", str(DEFAULT_DATA_DIR)))
    path = config_file(directory, env)
    if path.exists():
        with path.open("rb") as handle:
            for name, raw in tomllib.load(handle).items():
                if name not in types:
                    raise ConfigError(f"unknown setting {name!r} in {path}")
                values[name] = _coerce(name, raw, types[name])
    for name, kind in types.items():
        raw = env.get(f"STRONGROOM_{name.upper()}")
        if raw is not None:
            values[name] = _coerce(name, raw, kind)
    values["data_dir"] = directory if data_dir is not None else values.get("data_dir", directory)
    return Settings(**values).validated()
