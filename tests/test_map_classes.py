"""Classes of the maps (``reports.maps.map_classes``, used by the Carte page and the report):
readable on skewed layers (a « 0 » class), one value read alone, French plural in the caption,
on the real unmet need of the région's communes and hand cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import geodata
from reports.build import DEFAULT_CONFIG
from reports.maps import class_indices, class_labels, classify, edge_texts, map_classes
from reports.results import level_results, pack_tables
from reports.sections_access import unmet_classes
from ui.compute import plural, zones_caption


@pytest.fixture(scope="module")
def region_results() -> dict[str, pd.DataFrame]:
    """The région's results at commune and IRIS level (every layer the maps can show)."""
    pack = geodata.load_pack()
    places = pd.DataFrame(pack["places"].drop(columns="geometry"))
    tables = pack_tables(pack)
    return {level: level_results(tables, level, places, DEFAULT_CONFIG)[0] for level in ("commune", "iris")}


@pytest.fixture(scope="module")
def region_unmet(region_results) -> pd.Series:
    return region_results["commune"]["unmet"]


def test_quantiles_and_equal_intervals_are_mapclassify_bins(region_results):
    """The numpy quantiles / equal intervals of ``classify`` (which spare the map server the
    import of mapclassify) give mapclassify's bins, on every numeric layer of the région at both
    levels, for 3, 5 and 7 classes, and on tied hand values."""
    import mapclassify

    checked = 0
    cases = [np.array([0.0, 0, 0, 0, 1, 1, 2, 50]), np.array([1.0, 2.0]), np.arange(1000.0)]
    for table in region_results.values():
        for col in table.select_dtypes("number").columns:
            v = table[col].dropna().to_numpy(float)
            if np.unique(v).size >= 2:
                cases.append(v)
    for v in cases:
        for k in (3, 5, 7):
            k_used = min(k, np.unique(v).size)
            for scheme, cls in (("quantiles", mapclassify.Quantiles), ("equal_interval", mapclassify.EqualInterval)):
                with warnings.catch_warnings():  # « not enough unique values »
                    warnings.simplefilter("ignore", UserWarning)
                    expected = sorted({float(v.min()), *map(float, cls(v, k=k_used).bins)})
                expected[-1] = max(expected[-1], float(v.max()))
                edges, n = classify(v, scheme, k)
                assert edges == pytest.approx(expected, rel=1e-12, abs=1e-12), (scheme, k, v[:5])
                assert n == len(expected) - 1
                checked += 1
    assert checked > 100  # the layers were found (index, indicators, access, unmet need…)


def test_region_unmet_need_gets_a_zero_class(region_unmet):
    """Quintiles of the région's communes merged into « 0 – 2 », « 2 – 14 », « 14 – 26 821 »."""
    v = region_unmet.dropna().to_numpy(float)
    zero_share = (v == 0).mean()
    assert 0.4 < zero_share < 0.8  # most communes have no unmet need
    classes = map_classes(v, "quantiles", 5, decimals=0)
    assert classes.zero_class and classes.k == 5
    assert classes.labels[0] == "0"
    idx = class_indices(v, classes.bins, classes.k)
    assert (idx[v == 0] == 0).all() and (idx[v > 0] > 0).all()  # the « 0 » class holds the zeros only
    # the positive values in 4 classes of about the same size (quartiles)
    counts = np.bincount(idx[v > 0], minlength=classes.k)[1:]
    assert counts.min() >= 0.2 * (v > 0).sum()
    assert len(set(classes.labels)) == classes.k  # no two classes read the same
    assert f"{round(100 * zero_share)} % des zones" in classes.rule
    # the report's unmet-need map uses the same classes
    bins, labels, how = unmet_classes(region_unmet)
    assert bins == classes.bins and labels[0] == "0 (besoin couvert)" and labels[1:] == classes.labels[1:] and how == classes.rule


def test_one_value_reads_alone_and_plural_follows_the_count():
    assert map_classes([6.0], "quantiles", 5).labels == ["6,0"]  # not « 6,0 – 7,0 »
    assert map_classes([], "quantiles", 5).labels == ["aucune valeur"]
    c = map_classes([2.0, 2.0, 5.0, 5.0, 9.0, 9.0], "quantiles", 5)
    assert c.k == 3 and c.labels[0] == "2,0"  # few distinct values: as many classes, equal values alone
    assert plural(0, "zone") == "0 zone" and plural(1, "zone") == "1 zone" and plural(3504, "zone") == "3\u202f504 zones"
    assert zones_caption(1, 0, 1, 0, large=False).startswith("1 zone · 0 sans valeur · 1 dont la valeur")
    assert "(pâle, contour pointillé)" in zones_caption(1, 0, 1, 0, large=False)
    assert "17 sans habitants (non notées)" in zones_caption(201, 0, 161, 17, large=False)


def test_bounds_get_the_decimals_they_need():
    assert edge_texts([0, 0.26, 3.5], 0) == ["0", "0,3", "4"]  # a positive bound never reads « 0 »
    assert edge_texts([1.01, 1.04, 2.0], 1) == ["1,0", "1,04", "2,0"]  # two bounds never read the same
    # after a « 0 » class, a class starting below what the decimals show reads « moins de b »
    v = [0, 0, 0, 0.004, 0.5, 3, 8, 20]
    labels = class_labels(v, [0, 0.004, 3, 8, 20], decimals=0)
    assert labels[:2] == ["0", "moins de 3"]
    with pytest.raises(ValueError, match="scheme must be one of"):
        map_classes([1, 2], "jenks")
