"""Typed model options: each model's own settings are a dataclass whose fields say how to offer them.

A field made with ``option(...)`` carries its help text, choices, command-line flag, a parser for that
flag's text and a hint for the dashboard's widget, so the CLI's flags and the Train page's controls are
generated from the dataclass (``option_specs``) instead of being written out per model.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import SpecError


def option(default: Any, help: str, *, label: str | None = None, choices: tuple[Any, ...] | None = None,
           flag: str | None = None, parse: Callable[[str], Any] | None = None, metavar: str | None = None,
           widget: str | None = None, **widget_args: Any) -> Any:
    """A field of an options dataclass. Mutable defaults (dict, list) are copied per instance.

    ``widget`` names the dashboard control (``slider``, ``choice``, ``steps``, ``table``; by default from
    the type) and ``widget_args`` its settings (``low``, ``high``, ``step``, ``values``)."""
    metadata = {"help": help, "label": label, "choices": choices, "flag": flag, "parse": parse, "metavar": metavar,
                "widget": widget, "widget_args": widget_args}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class OptionSpec:
    """One option as the CLI and the dashboard see it."""

    name: str
    default: Any
    help: str
    label: str
    choices: tuple[Any, ...] | None
    flag: str
    parse: Callable[[str], Any] | None
    metavar: str | None
    widget: str
    widget_args: dict[str, Any]


def option_specs(options: type) -> list[OptionSpec]:
    """The fields of an options dataclass, in order, with their defaults."""
    specs = []
    for f in dataclasses.fields(options):
        meta = f.metadata
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        widget = meta.get("widget") or ("choice" if meta.get("choices") else "number")
        specs.append(OptionSpec(name=f.name, default=default, help=meta.get("help", ""),
                                label=meta.get("label") or f.name.replace("_", " "), choices=meta.get("choices"),
                                flag=meta.get("flag") or "--" + f.name.replace("_", "-"), parse=meta.get("parse"),
                                metavar=meta.get("metavar"), widget=widget, widget_args=dict(meta.get("widget_args", {}))))
    return specs


def build_options(options: type, values: dict[str, Any], model: str) -> Any:
    """An options instance from saved or given ``values``; unknown names are an error naming the known ones."""
    known = [f.name for f in dataclasses.fields(options)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SpecError(f"Unknown option(s) for the {model} model: {', '.join(unknown)}; "
                        f"known: {', '.join(known) or 'none'}.")
    built = options(**values)
    check_numbers(built, model)
    return built


MAX_OPTION_COUNT = 10**6


def check_numbers(options: Any, model: str) -> None:
    """Every number among a model's options finite, and every whole-number option from 1 to a million
    (steps, counts): a NaN weight or a negative count would train silently into nonsense."""
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            continue
        if isinstance(f.default, int) and not isinstance(f.default, bool) and \
                (not isinstance(value, int) or not 1 <= value <= MAX_OPTION_COUNT):
            raise SpecError(f"{flag} of the {model} model must be a whole number from 1 to {MAX_OPTION_COUNT} "
                            f"(got {value!r}).")
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"{flag} of the {model} model must be a finite number (got {value}).")


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value not in choices:
        raise SpecError(f"{name} must be one of {', '.join(map(str, choices))} (got {value!r}).")


def parse_weights(text: str) -> dict[str, float]:
    """``W`` for every attribute, ``ATTR=W,...`` per attribute, or both (``1,religion=0.5``): a mapping with
    ``"*"`` for the weight of every attribute not named."""
    weights: dict[str, float] = {}
    for item in (part.strip() for part in str(text).split(",")):
        name, _, value = item.rpartition("=")
        name = name.strip() if "=" in item else "*"
        try:
            weight = float(value)
        except ValueError:
            raise SpecError(f"{item!r} is not a weight: give a number or ATTRIBUTE=NUMBER") from None
        if not weight >= 0 or math.isinf(weight):
            raise SpecError(f"{item!r}: weights must be finite and non-negative")
        if not name:
            raise SpecError(f"{item!r} names no attribute: give ATTRIBUTE=NUMBER")
        if name in weights:
            raise SpecError(f"the weight of {'every attribute' if name == '*' else repr(name)} is given twice")
        weights[name] = weight
    return weights


def weight_of(weights: dict[str, float], attribute: str, default: float = 1.0) -> float:
    """The weight ``parse_weights`` gives ``attribute``."""
    return float(weights.get(attribute, weights.get("*", default)))
