"""What a page handler receives and returns, and how KMS failures are shown in a page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from strongroom.console.http import Request, Response
from strongroom.console.kms import KmsCallError, KmsOperations, Principal

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    """A template to render with its values; ``status`` for pages that report a refusal."""

    template: str
    values: Mapping[str, Any]
    status: int = 200
    title: str = ""


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A KMS answer or the error it gave: sections of a page show whichever they got."""

    value: T | None = None
    error: KmsCallError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class PageContext:
    """One signed-in request: the principal and the KMS it may call, nothing else."""

    request: Request
    principal: Principal
    kms: KmsOperations
    policy_template: Callable[[str, list[str], list[str], bool], str]
    flashes: list[str] = field(default_factory=list)

    def call(self, operation: str, request: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.kms.call(self.principal, operation, request or {})

    def attempt(
        self, operation: str, request: Mapping[str, Any] | None = None
    ) -> Outcome[dict[str, Any]]:
        try:
            return Outcome(self.call(operation, request))
        except KmsCallError as error:
            return Outcome(error=error)

    def pages(
        self, operation: str, request: Mapping[str, Any], member: str, limit: int = 1000
    ) -> Outcome[list[Any]]:
        """Every item of a paged list operation (Marker/NextMarker), up to ``limit`` items."""
        items: list[Any] = []
        marker: str | None = None
        while len(items) < limit:
            page = {**request, **({"Marker": marker} if marker else {})}
            try:
                answer = self.call(operation, page)
            except KmsCallError as error:
                return Outcome(error=error)
            items.extend(answer.get(member, []))
            marker = answer.get("NextMarker")
            if not answer.get("Truncated") or not marker:
                break
        return Outcome(items[:limit])


Handler = Callable[[PageContext], "Page | Response"]
