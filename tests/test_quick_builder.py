"""The quick record builders (dote.model.quick_builder): the records they make are the
records the classes make, frozen and hashable alike, and a class they cannot mirror is
refused."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from dote import model, pipeline
from dote.model import Activity, DataCategory, Retention, quick_builder


def _fields_of(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    size: int = 3
    tags: tuple[str, ...] = field(default_factory=tuple)
    extra: list[int] = field(default_factory=list)


def test_a_built_record_is_a_record_of_the_class() -> None:
    build = quick_builder(Sample)
    made = build("a", 4, ("x",), [1])
    assert type(made) is Sample
    assert made == Sample("a", 4, ("x",), [1])
    assert repr(made) == repr(Sample("a", 4, ("x",), [1]))
    assert made != Sample("b", 4, ("x",), [1])


def test_defaults_and_factories_are_honoured() -> None:
    build = quick_builder(Sample)
    first, second = build("a"), build(name="b")
    assert (first.size, first.tags, first.extra) == (3, (), [])
    assert second.name == "b"
    assert first.extra is not second.extra  # a factory per record, not one shared list


def test_a_built_record_stays_frozen_and_hashable() -> None:
    build = quick_builder(Sample)
    made = build("a", tags=("x",), extra=[])
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "b"  # type: ignore[misc]
    hashable = quick_builder(Retention)(duration="P1Y")
    assert hash(hashable) == hash(Retention(duration="P1Y"))
    assert {hashable} == {Retention(duration="P1Y")}
    assert pickle.loads(pickle.dumps(hashable)) == hashable


def test_a_missing_field_is_the_same_error() -> None:
    build = quick_builder(Sample)
    with pytest.raises(TypeError, match="name"):
        build()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected"):
        build("a", colour="red")  # type: ignore[call-arg]


@dataclass(frozen=True)
class NotSlotted:
    name: str


@dataclass(slots=True)
class NotFrozen:
    name: str


@dataclass(frozen=True, slots=True)
class WithPostInit:
    name: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("name")


@dataclass(frozen=True, slots=True)
class WithBase(Sample):
    more: str = ""


@dataclass(frozen=True, slots=True)
class KeywordOnly:
    name: str = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class NotInit:
    name: str
    derived: str = field(init=False, default="")


class Plain:
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.mark.parametrize("cls", [NotSlotted, NotFrozen, WithPostInit, WithBase, KeywordOnly, NotInit, Plain])
def test_a_class_it_cannot_mirror_is_refused(cls: type) -> None:
    with pytest.raises(TypeError, match=cls.__name__):
        quick_builder(cls)


def test_the_territory_records_are_those_of_the_classes(checked_registers: pipeline.Result) -> None:
    """Every activity of the demo, with its categories and retentions, is a genuine record:
    rebuilt field by field through the class itself, it is equal and hashes the same."""
    territory = checked_registers.territory
    assert territory is not None
    activities = territory.activities
    assert activities
    for activity in activities:
        assert type(activity) is Activity
        assert Activity(**_fields_of(activity)) == activity
        assert type(activity.recipients) is model.Recipients
        assert type(activity.dates) is model.Dates
        assert activity.dpia is None or type(activity.dpia) is model.Dpia
        for category in activity.categories:
            assert type(category) is DataCategory
            assert category.retention is None or type(category.retention) is Retention
            assert DataCategory(**_fields_of(category)) == category
        with pytest.raises(dataclasses.FrozenInstanceError):
            activity.name = "autre"  # type: ignore[misc]
        assert hash(activity.dates) == hash(model.Dates(**_fields_of(activity.dates)))
