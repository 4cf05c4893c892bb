"""Dataset specs: which relations carry sensitive attributes and which one is the target (profession).

A spec is data, not code, so any knowledge graph (Freebase, Wikidata, a user's upload) can be described
on the command line without changing the package.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import SpecError


@dataclass(frozen=True)
class Attribute:
    """A sensitive attribute stored by ``relation``.

    ``reversed`` means the graph stores ``value -> person`` (FB15k-237's ``/people/ethnicity/people``)
    instead of ``person -> value``.
    """

    name: str
    relation: str
    reversed: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """Names the sensitive attributes and the target relation of a knowledge graph."""

    name: str
    attributes: tuple[Attribute, ...] = ()
    target: str | None = None
    target_name: str = "profession"
    # Readable names for attribute values (e.g. Freebase ids of genders), used before generic labels.
    value_labels: dict[str, str] = field(default_factory=dict)

    def attribute(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        known = ", ".join(a.name for a in self.attributes) or "none"
        raise SpecError(f"Unknown attribute {name!r}; this dataset's spec defines: {known}.")

    @property
    def attribute_names(self) -> list[str]:
        return [a.name for a in self.attributes]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetSpec":
        attributes = tuple(Attribute(**a) for a in data.get("attributes", ()))
        return cls(
            name=data["name"],
            attributes=attributes,
            target=data.get("target"),
            target_name=data.get("target_name", "profession"),
            value_labels=dict(data.get("value_labels", {})),
        )


def parse_attribute_flag(text: str, reversed_: bool = False) -> Attribute:
    """Parse ``NAME=RELATION`` from the command line."""
    name, sep, relation = text.partition("=")
    if not sep or not name.strip() or not relation.strip():
        raise SpecError(f"Attribute {text!r} must look like NAME=RELATION, e.g. gender=/people/person/gender or gender=P21.")
    return Attribute(name=name.strip(), relation=relation.strip(), reversed=reversed_)


FB15K237_SPEC = DatasetSpec(
    name="fb15k237",
    attributes=(
        Attribute("gender", "/people/person/gender"),
        Attribute("religion", "/people/person/religion"),
        Attribute("nationality", "/people/person/nationality"),
        Attribute("ethnicity", "/people/ethnicity/people", reversed=True),
    ),
    target="/people/person/profession",
    value_labels={"/m/05zppz": "male", "/m/02zsn": "female"},
)

WIKIDATA_SPEC = DatasetSpec(
    name="wikidata",
    attributes=(
        Attribute("gender", "P21"),
        Attribute("nationality", "P27"),
        Attribute("religion", "P140"),
        Attribute("ethnicity", "P172"),
    ),
    target="P106",
    value_labels={"Q6581097": "male", "Q6581072": "female"},
)

BUILTIN_SPECS: dict[str, DatasetSpec] = {spec.name: spec for spec in (FB15K237_SPEC, WIKIDATA_SPEC)}
