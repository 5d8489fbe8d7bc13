"""Vietnamese and English texts: complete, same placeholders, valid sheet names."""

from __future__ import annotations

import string

import pytest

from pipeline._errors import ConfigError
from pipeline.i18n import LANGUAGES, TEXT, check_language, column_label, t, yes_no
from pipeline.shortlists import LISTS


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@pytest.mark.parametrize("key", sorted(TEXT))
def test_both_languages_present_with_same_placeholders(key):
    vi, en = TEXT[key]
    assert vi.strip()
    assert en.strip()
    assert _fields(vi) == _fields(en), key


def test_vietnamese_is_vietnamese_and_english_is_ascii_where_expected():
    assert t("list_alleys", "vi") == "Ngõ cần mở rộng"
    assert t("list_alleys", "en") == "Alleys to widen"
    assert t("minutes", "vi", m=4.0) == "4 phút"
    assert t("minutes", "en", m=12.5) == "12.5 min"


def test_sheet_names_fit_excel():
    for spec in LISTS:
        for lang in LANGUAGES:
            name = t(spec.title_key, lang)
            assert len(name) <= 31
            assert not set(name) & set("[]:*?/\\")


def test_column_labels_and_fallback():
    assert column_label("min_width_m", "vi") == "Bề rộng chỗ hẹp nhất (m)"
    assert column_label("min_width_m", "en") == "Narrowest width (m)"
    assert column_label("vn2000_x", "vi", zone="VN-2000 TM-3 105°00\u2032") == (
        "X - hướng Bắc (VN-2000 TM-3 105°00\u2032, m)"
    )
    assert column_label("some_new_column", "en") == "some_new_column"
    assert yes_no(value=True, lang="vi") == "Có"
    assert yes_no(value=0, lang="en") == "No"


def test_unknown_language_is_a_config_error():
    assert check_language("en") == "en"
    with pytest.raises(ConfigError, match=r"report\.language.*'fr'"):
        check_language("fr")


@pytest.mark.parametrize(
    ("value", "lang", "decimals", "shown"),
    [
        (3.25, "vi", 1, "3,3"),  # the width column says 3.25: the sentence must not say 3,2
        (2.675, "en", 2, "2.68"),
        (1234.5, "en", 0, "1,235"),
        (12655.27, "vi", 0, "12.655"),
        (1e6, "vi", 0, "1.000.000"),
        (float("nan"), "vi", 1, "—"),
    ],
)
def test_numbers_round_half_up_with_the_languages_separators(value, lang, decimals, shown):
    from pipeline.i18n import MISSING, fmt_number

    assert fmt_number(value, lang, decimals) == (MISSING if shown == "—" else shown)
