"""OSM tag values read one way everywhere: lengths with units, numbers, lanes, classes, names."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: ``sidewalk=*`` values that mean the street has a sidewalk on at least one side.
SIDEWALK_VALUES = frozenset({"both", "left", "right", "yes", "separate"})
SIDEWALK_TAGS: tuple[str, ...] = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")

_NUMBER = r"(\d+(?:[.,]\d+)?|[.,]\d+)"
_LENGTH_RE = (
    rf"^[^\d.,]*?{_NUMBER}\s*(?:(?:-|\u2013|to|~)\s*{_NUMBER})?\s*"
    "(cm|mm|m|met|meter|meters|metre|metres|ft|feet|foot|'|\u2019)?"
)
_UNIT_M = {
    "cm": 0.01,
    "mm": 0.001,
    "ft": 0.3048,
    "feet": 0.3048,
    "foot": 0.3048,
    "'": 0.3048,
    "\u2019": 0.3048,
}


_F = TypeVar("_F", bound="Callable[..., Any]")


def per_distinct_value(fn: _F) -> _F:
    """Run a per-element function of a tag column once per distinct value, then spread back.

    A province's tag columns hold a few distinct values over hundreds of thousands of edges;
    pandas string methods loop in Python per element. The result is the same, element by
    element (``fn`` must not look at neighbouring rows); Series keep their dtype and take the
    input's index, arrays their dtype.
    """

    @functools.wraps(fn)
    def wrapper(values: pd.Series, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        if 2 * len(uniques) >= len(values):
            return fn(values, *args, **kwargs)
        out = fn(pd.Series(uniques, dtype=values.dtype), *args, **kwargs)

        def spread(part: Any) -> Any:  # noqa: ANN401
            if isinstance(part, pd.Series):
                return part.take(codes).set_axis(values.index)
            return np.asarray(part)[codes]

        return tuple(spread(p) for p in out) if isinstance(out, tuple) else spread(out)

    return wrapper  # type: ignore[return-value]


@per_distinct_value
def normalised_text(values: pd.Series) -> pd.Series:
    """Return tag values stripped and lower-cased (``string`` dtype, missing stays missing)."""
    return values.astype("string").str.strip().str.lower()


@per_distinct_value
def parse_length_range_m(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse OSM length tags into a low and a high value in metres.

    Parameters
    ----------
    values
        Raw tag values (strings or missing), for example ``"3m"``, ``"3,5"``, ``"2-3"``,
        ``"350 cm"``, ``"12'"`` or ``"narrow"``.

    Returns
    -------
    low, high
        Float metres indexed like ``values`` (``NaN`` where no positive number is found);
        ``high`` equals ``low`` unless the value is a range.

    Notes
    -----
    A decimal comma is a decimal point (``"3,5"`` is 3.5 m, as written in Viet Nam). Of a range
    (``"2-3"``) ``low`` is the lower value; of a list (``"3;4"``) the first value is kept.
    Units ``cm``, ``mm`` and feet (``ft``, ``'``) are converted; no unit is metres.
    """
    text = values.astype("string").str.strip().str.lower()
    parts = text.str.extract(_LENGTH_RE)
    first = pd.to_numeric(parts[0].str.replace(",", ".", regex=False), errors="coerce")
    second = pd.to_numeric(parts[1].str.replace(",", ".", regex=False), errors="coerce")
    a, b = first.to_numpy(dtype=float), second.to_numpy(dtype=float)
    factor = parts[2].map(_UNIT_M).astype(float).fillna(1.0).to_numpy()
    low, high = np.fmin(a, b) * factor, np.fmax(a, b) * factor
    low[~(low > 0)] = np.nan
    high[np.isnan(low)] = np.nan
    return pd.Series(low, index=values.index), pd.Series(high, index=values.index)


def parse_length_m(values: pd.Series) -> pd.Series:
    """Parse OSM length tags (``width``, ``maxheight``, ...) into metres: the low end of a range.

    See :func:`parse_length_range_m`; the lower value of a range is the conservative reading
    for a truck.
    """
    return parse_length_range_m(values)[0]


@per_distinct_value
def parse_lanes(values: pd.Series) -> pd.Series:
    """Parse the OSM ``lanes`` tag: the first whole number (``"2;3"`` -> 2), ``NaN`` otherwise."""
    text = values.astype("string").str.extract(r"^\s*(\d+)", expand=False)
    lanes = pd.to_numeric(text, errors="coerce").astype(float)
    lanes[~(lanes > 0)] = np.nan
    return lanes


@per_distinct_value
def parse_number(values: pd.Series) -> pd.Series:
    """Parse a plain number tag (``building:levels``, ``admin_level``): the first number.

    A decimal comma is a decimal point; of a range or list (``"2-3"``, ``"2;3"``) the first
    value is kept; ``NaN`` where there is no number.
    """
    text = values.astype("string").str.strip().str.replace(",", ".", regex=False)
    number = text.str.extract(r"^[^\d.]*?(\d+(?:\.\d+)?|\.\d+)", expand=False)
    return pd.to_numeric(number, errors="coerce").astype(float)


@per_distinct_value
def is_alley_name(names: pd.Series, prefixes: Sequence[str]) -> pd.Series:
    """Tell whether each street name starts with an alley word (``Ngõ``, ``Ngách``, ``Hẻm``...)."""
    if not prefixes:
        return pd.Series(data=False, index=names.index)
    lowered = names.astype("string").str.strip().str.lower()
    words = tuple(p.lower() for p in prefixes)
    return lowered.str.startswith(words).fillna(value=False).astype(bool)


@per_distinct_value
def as_text(values: pd.Series) -> np.ndarray:
    """Return tag values as an object array of ``str`` (``""`` where missing)."""
    return values.astype("string").fillna("").to_numpy(dtype=object)


@per_distinct_value
def base_highway(highway: pd.Series) -> pd.Series:
    """Return each way's road class for width priors: the first of a list, ``*_link`` -> parent.

    Parameters
    ----------
    highway
        OSM ``highway`` values (``"primary_link"``, ``"service;footway"``, missing...).

    Returns
    -------
    pandas.Series
        Lower-case class names (``"primary"``, ``"service"``; ``""`` where missing).
    """
    first = highway.astype("string").str.split(";").str[0].str.strip().str.lower()
    return first.str.removesuffix("_link").fillna("")


def has_sidewalk(edges: pd.DataFrame) -> np.ndarray:
    """Tell which edges are tagged with a sidewalk on at least one side (``sidewalk=*``)."""
    out = np.zeros(len(edges), dtype=bool)
    for tag in SIDEWALK_TAGS:
        if tag in edges.columns:
            values = normalised_text(edges[tag])
            out |= values.isin(SIDEWALK_VALUES).to_numpy(dtype=bool)
    return out
