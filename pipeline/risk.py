"""Ward ranking by people at risk: beyond hose reach, without water, beyond the target time."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: The components of the ranking: per building, a boolean column of the table
#: :func:`ward_risk` reads (NaN where the stage behind it gave no answer).
COMPONENTS: tuple[str, ...] = ("beyond_hose", "without_water", "beyond_time")


def people_per_building(
    floor_area_m2: pd.Series,
    ward_id: pd.Series,
    ward_population: pd.Series,
    *,
    floor_area_per_person_m2: float,
) -> pd.Series:
    """Return the estimated people living in each building.

    Parameters
    ----------
    floor_area_m2
        Floor area of each building (NaN counts as 0).
    ward_id
        Ward of each building, indexed like ``floor_area_m2``.
    ward_population
        Population by ward id (NaN where unknown).
    floor_area_per_person_m2
        Floor area per person, used in wards whose population is unknown.

    Returns
    -------
    pandas.Series
        Indexed like ``floor_area_m2``, named ``people``.

    Notes
    -----
    Where a ward's population is known it is spread over the ward's buildings in proportion
    to their floor area (the same rule as the density grid), so the buildings of a ward add
    up to its population. Elsewhere people = floor area / floor area per person.
    """
    fa = floor_area_m2.astype(float).fillna(0.0).clip(lower=0.0)
    ward = ward_id.reindex(fa.index)
    ward_fa = fa.groupby(ward).sum()
    pop = ward_population.astype(float).reindex(ward_fa.index)
    per_m2 = (pop / ward_fa.where(ward_fa > 0)).reindex(ward.to_numpy()).to_numpy()
    fallback = 1.0 / floor_area_per_person_m2
    rate = np.where(np.isfinite(per_m2), per_m2, fallback)
    return pd.Series(fa.to_numpy() * rate, index=fa.index, name="people")


def ward_risk(buildings: pd.DataFrame, ward_ids: pd.Index) -> pd.DataFrame:
    """Return each ward's people at risk, per component and in all, and its rank.

    Parameters
    ----------
    buildings
        One row per building: ``ward_id``, ``people`` and the :data:`COMPONENTS` columns
        (True: the building fails it; NaN: unknown, for example a stage that did not run).
    ward_ids
        Every ward, in any order; wards without buildings get zeros.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``ward_ids``: ``people``, ``people_<component>`` for each component
        (NaN when the component is unknown everywhere), ``people_at_risk`` (people in
        buildings failing at least one known component, each building counted once),
        ``risk_share`` (people at risk / people) and ``risk_rank`` (1 = most people at risk).

    Notes
    -----
    The ranking counts people, not shares: a dense ward where 20,000 people live beyond hose
    reach ranks above a rural commune where 300 do, whatever their shares. Ties are broken by
    the sum of the components (a building failing two counts more), then by the share.
    """
    b = buildings
    people = b["people"].astype(float).fillna(0.0)
    out = pd.DataFrame(index=ward_ids)
    out["people"] = people.groupby(b["ward_id"]).sum().reindex(ward_ids, fill_value=0.0)
    any_fail = pd.Series(data=False, index=b.index)
    known_any = False
    for comp in COMPONENTS:
        col = f"people_{comp}"
        flags = b[comp] if comp in b.columns else pd.Series(np.nan, index=b.index)
        known = flags.notna()
        if not known.any():
            out[col] = np.nan
            continue
        known_any = True
        fails = flags.where(known, other=False).astype(bool)
        any_fail |= fails
        out[col] = (people * fails).groupby(b["ward_id"]).sum().reindex(ward_ids, fill_value=0.0)
    if known_any:
        out["people_at_risk"] = (
            (people * any_fail).groupby(b["ward_id"]).sum().reindex(ward_ids, fill_value=0.0)
        )
    else:
        out["people_at_risk"] = np.nan
    out["risk_share"] = (out["people_at_risk"] / out["people"].where(out["people"] > 0)).clip(0, 1)
    parts = out[[f"people_{c}" for c in COMPONENTS]].sum(axis=1, min_count=1)
    order = pd.DataFrame(
        {"a": -out["people_at_risk"].fillna(-1), "b": -parts.fillna(-1),
         "c": -out["risk_share"].fillna(-1)},
        index=out.index,
    )  # fmt: skip
    ranked = order.sort_values(["a", "b", "c"], kind="stable").index
    out["risk_rank"] = pd.Series(np.arange(1, len(ranked) + 1), index=ranked).reindex(out.index)
    return out
