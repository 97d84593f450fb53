from __future__ import annotations

import dataclasses

import pytest

from strongroom.kms.domain.frozen import quick_init


@quick_init
@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    name: str
    count: int = 3
    label: str | None = None


def test_same_signature_and_defaults_as_the_dataclass() -> None:
    assert Sample("a") == Sample(name="a", count=3, label=None)
    assert Sample("a", 5, "x") == Sample(label="x", count=5, name="a")
    assert repr(Sample("a")) == "Sample(name='a', count=3, label=None)"
    assert dataclasses.replace(Sample("a"), count=7) == Sample("a", 7)
    with pytest.raises(TypeError):
        Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample("a", nope=1)  # type: ignore[call-arg]


def test_stays_frozen() -> None:
    sample = Sample("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.count = 4  # type: ignore[misc]


def test_refuses_what_it_cannot_build() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        name: str

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        names: list[str] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        name: str
        size: int = dataclasses.field(init=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "size", len(self.name))

    for cls in (Mutable, Factory, Derived):
        with pytest.raises(TypeError):
            quick_init(cls)
