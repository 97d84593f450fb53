"""``strongroom encrypt | decrypt | inspect``: files and streams in the Encryption SDK format.

Inputs are files, directories (with ``-r``) or ``-`` for stdin; the output is a file, a
directory (several inputs) or ``-`` for stdout. Defaults: stdin to stdout; a file ``F`` to
``F.encrypted`` (encrypt) or to ``F`` without ``.encrypted`` (decrypt, else ``F.decrypted``).
A file is written to a temporary name next to its destination and renamed only when the whole
message was processed, so a tampered or truncated message never leaves a partial plaintext.
Every failure is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from strongroom.envelope import (
    DEFAULT_FRAME_LENGTH,
    CacheLimits,
    DataKeyCache,
    EnvelopeError,
    KmsKeyring,
    decrypt_stream,
    encrypt_stream,
    kms_client,
    read_message_header,
)
from strongroom.envelope.stream import DEFAULT_MAX_ENCRYPTED_DATA_KEYS
from strongroom.envelope.suites import BY_SHORT_NAME, SUITES

SUFFIX = ".encrypted"
PROGRESS_THRESHOLD = 32 * 1024 * 1024
_MIB = 1024 * 1024


class CommandError(Exception):
    """A usage problem reported as one line with exit status 2."""


def add_parser(commands: Any) -> None:
    encrypt = commands.add_parser("encrypt", help="encrypt files or stdin (Encryption SDK format)")
    _common(encrypt)
    encrypt.add_argument(
        "--key-id",
        action="append",
        required=True,
        help="KMS key (id, ARN or alias); repeat for several keys, any one can decrypt",
    )
    encrypt.add_argument("--suite", choices=sorted(BY_SHORT_NAME), default="signed")
    encrypt.add_argument(
        "--frame-length", type=int, default=DEFAULT_FRAME_LENGTH, help="bytes per frame"
    )
    encrypt.set_defaults(run=run_encrypt)

    decrypt = commands.add_parser("decrypt", help="decrypt Encryption SDK messages")
    _common(decrypt)
    decrypt.add_argument(
        "--key-id", action="append", default=[], help="strict mode: only these keys may decrypt"
    )
    decrypt.add_argument(
        "--discovery", action="store_true", help="use any KMS key the caller may use"
    )
    decrypt.add_argument(
        "--discovery-account",
        action="append",
        default=None,
        help="with --discovery: only keys of this account (repeatable)",
    )
    decrypt.add_argument(
        "--suite",
        choices=["any", *sorted(BY_SHORT_NAME)],
        default="any",
        help="accept only this suite (signed: refuse messages any decrypting party could forge)",
    )
    decrypt.set_defaults(run=run_decrypt)

    inspect = commands.add_parser("inspect", help="print the header of a message as JSON")
    inspect.add_argument("input", nargs="?", default="-", help="file, or - for stdin")
    inspect.set_defaults(run=run_inspect)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", default=["-"], help="files, directories or -")
    parser.add_argument("-o", "--output", default=None, help="file, directory or - for stdout")
    parser.add_argument("-r", "--recursive", action="store_true", help="descend into directories")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="encryption context pair (on decrypt: a pair the message must have); repeatable",
    )
    parser.add_argument("--endpoint-url", default=None, help="KMS endpoint (else the AWS env)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--profile", default=None)
    parser.add_argument(
        "--max-encrypted-data-keys", type=int, default=DEFAULT_MAX_ENCRYPTED_DATA_KEYS
    )
    parser.add_argument("--progress", action="store_true", help="show progress even if no TTY")
    parser.add_argument(
        "--cache-max-age",
        type=float,
        default=60.0,
        help="seconds a data key may serve several files of one run (0: no cache)",
    )
    parser.add_argument("--cache-max-messages", type=int, default=1000)
    parser.add_argument("--cache-max-bytes", type=int, default=2**32)


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    keyring: KmsKeyring
    context: dict[str, str]
    cache: DataKeyCache | None


Job = Callable[[_Run, BinaryIO, BinaryIO, "int | None", "_Progress"], None]


def run_encrypt(args: argparse.Namespace) -> int:
    def job(
        run: _Run, source: BinaryIO, destination: BinaryIO, size: int | None, bar: _Progress
    ) -> None:
        encrypt_stream(
            source,
            destination,
            run.keyring,
            context=run.context,
            suite=BY_SHORT_NAME[args.suite],
            frame_length=args.frame_length,
            max_encrypted_data_keys=args.max_encrypted_data_keys,
            cache=run.cache,
            plaintext_length=size,
            progress=bar.advance,
        )

    return _guarded(args, job, encrypting=True)


def run_decrypt(args: argparse.Namespace) -> int:
    def job(
        run: _Run, source: BinaryIO, destination: BinaryIO, size: int | None, bar: _Progress
    ) -> None:
        decrypt_stream(
            source,
            destination,
            run.keyring,
            required_context=run.context,
            max_encrypted_data_keys=args.max_encrypted_data_keys,
            cache=run.cache,
            progress=bar.advance,
            accept=accepted,
        )

    accepted = tuple(SUITES.values()) if args.suite == "any" else (BY_SHORT_NAME[args.suite],)
    return _guarded(args, job, encrypting=False)


def _guarded(args: argparse.Namespace, job: Job, encrypting: bool) -> int:
    try:
        context = parse_context(args.context)
        keyring = _build_keyring(args, encrypting)
        cache = None
        if args.cache_max_age > 0:
            cache = DataKeyCache(
                CacheLimits(args.cache_max_age, args.cache_max_messages, args.cache_max_bytes)
            )
        run = _Run(keyring, context, cache)
        for source, target in plan(args, encrypting):
            _process(run, source, target, job, args)
    except (EnvelopeError, CommandError, OSError, ValueError) as error:
        print(f"strongroom: {_one_line(error)}", file=sys.stderr)
        return 2
    return 0


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror or error}: {error.filename}"
    return " ".join(str(error).split()) or type(error).__name__


def _build_keyring(args: argparse.Namespace, encrypting: bool) -> KmsKeyring:
    client = kms_client(args.endpoint_url, args.region, args.profile)
    if encrypting:
        return KmsKeyring(client, args.key_id)
    if args.discovery and args.key_id:
        raise CommandError("use either --key-id (strict mode) or --discovery, not both")
    if not args.discovery and not args.key_id:
        raise CommandError("decrypt needs --key-id (strict mode) or --discovery")
    if args.discovery_account and not args.discovery:
        raise CommandError("--discovery-account needs --discovery")
    return KmsKeyring(
        client, args.key_id, discovery=args.discovery, discovery_accounts=args.discovery_account
    )


def parse_context(pairs: list[str]) -> dict[str, str]:
    context: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"encryption context pairs are KEY=VALUE, not {pair!r}")
        if key in context:
            raise CommandError(f"encryption context key {key!r} given twice")
        context[key] = value
    return context


# --- inputs and outputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    path: Path | None  # None: stdin
    relative: Path | None = None  # for directory inputs: the path below the named directory


def _target_name(name: str, encrypting: bool) -> str:
    if encrypting:
        return name + SUFFIX
    if name.endswith(SUFFIX) and len(name) > len(SUFFIX):
        return name[: -len(SUFFIX)]
    return name + ".decrypted"


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def plan(args: argparse.Namespace, encrypting: bool) -> list[tuple[Source, Path | None]]:
    """Pair every input with its output (``None``: stdout)."""
    sources: list[Source] = []
    for name in args.inputs:
        if name == "-":
            sources.append(Source(None))
            continue
        path = Path(name)
        if path.is_dir():
            if not args.recursive:
                raise CommandError(f"{path} is a directory (use -r)")
            sources += [Source(file, file.relative_to(path)) for file in _walk(path)]
        elif path.exists():
            sources.append(Source(path))
        else:
            raise CommandError(f"no such file: {path}")
    several = len(sources) > 1 or any(source.relative is not None for source in sources)
    output = args.output
    if sum(source.path is None for source in sources) and several:
        raise CommandError("stdin (-) cannot be combined with other inputs")
    pairs: list[tuple[Source, Path | None]] = []
    for source in sources:
        if output == "-":
            if several:
                raise CommandError("several inputs cannot all go to stdout")
            pairs.append((source, None))
        elif output is not None and not several and not Path(output).is_dir():
            pairs.append((source, Path(output)))
        elif source.path is None:
            if output is None:
                pairs.append((source, None))
            else:
                raise CommandError(f"output {output} is a directory; name a file for stdin")
        else:
            name = _target_name(source.path.name, encrypting)
            if output is None:
                where = source.path.with_name(name)
            elif source.relative is not None:
                where = Path(output) / source.relative.with_name(name)
            else:
                where = Path(output) / name
            pairs.append((source, where))
    return pairs


def _process(
    run: _Run, source: Source, target: Path | None, job: Job, args: argparse.Namespace
) -> None:
    size = source.path.stat().st_size if source.path is not None else None
    show = args.progress or (sys.stderr.isatty() and (size or 0) >= PROGRESS_THRESHOLD)
    label = str(source.path) if source.path else "stdin"
    bar = _Progress(label, size, enabled=show)
    with _open_source(source) as reader:
        if target is None:
            job(run, reader, sys.stdout.buffer, size, bar)
        else:
            if target.exists() and not args.force:
                raise CommandError(f"{target} exists (use --force to overwrite)")
            if source.path is not None and target.resolve() == source.path.resolve():
                raise CommandError(f"{target} is both input and output")
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(handle, "wb") as writer:
                    job(run, reader, writer, size, bar)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
    bar.done()


class _open_source:  # noqa: N801 - a context manager used like open()
    def __init__(self, source: Source) -> None:
        self._source = source
        self._file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self._source.path is None:
            return sys.stdin.buffer
        self._file = open(self._source.path, "rb")
        return self._file

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()


class _Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, total: int | None, enabled: bool) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self.done_bytes = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, count: int) -> None:
        self.done_bytes += count
        if self.enabled and time.monotonic() - self._drawn >= 0.1:
            self._draw()

    def _draw(self) -> None:
        self._drawn = time.monotonic()
        rate = self.done_bytes / _MIB / max(self._drawn - self.started, 1e-6)
        if self.total:
            share = min(self.done_bytes / self.total, 1.0)
            filled = int(share * 30)
            bar = "#" * filled + "-" * (30 - filled)
            text = f"\r{self.label} [{bar}] {share:4.0%} {rate:7.1f} MiB/s"
        else:
            text = f"\r{self.label} {self.done_bytes / _MIB:9.1f} MiB {rate:7.1f} MiB/s"
        sys.stderr.write(text)
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()


def run_inspect(args: argparse.Namespace) -> int:
    try:
        with _open_source(Source(None if args.input == "-" else Path(args.input))) as reader:
            header = read_message_header(reader, max_encrypted_data_keys=None)
    except (EnvelopeError, OSError) as error:
        print(f"strongroom: {_one_line(error)}", file=sys.stderr)
        return 2
    suite = SUITES[header.suite_id]
    description = {
        "version": 2,
        "algorithm_suite": {"id": f"0x{suite.suite_id:04X}", "name": suite.name},
        "message_id": header.message_id.hex(),
        "encryption_context": dict(header.encryption_context),
        "encrypted_data_keys": [
            {"provider_id": key.provider_id, "provider_info": key.provider_info}
            for key in header.encrypted_data_keys
        ],
        "content_type": "framed",
        "frame_length": header.frame_length,
    }
    print(json.dumps(description, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m strongroom.cli.envelope``: the same commands without the server's imports."""
    parser = argparse.ArgumentParser(prog="strongroom", description=__doc__)
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
