"""Reference data, read from the dbt seeds.

The seeds are the single source of truth for countries, currencies and raw category labels:
reading them here means the lake can only contain codes the warehouse knows how to map, and a
change to a seed changes both sides at once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"

#: The currency code that marks the ``unknown_currency`` defect; no seed may define it.
UNKNOWN_CURRENCY = "XXX"


@dataclass(frozen=True)
class Reference:
    """Countries, currencies and category labels, as positional tuples and index arrays."""

    country_codes: tuple[str, ...]
    currency_codes: tuple[str, ...]
    eur_per_unit: np.ndarray  # float64, aligned with currency_codes
    country_currency: np.ndarray  # int64 index into currency_codes, aligned with country_codes
    raw_categories: tuple[str, ...]  # every raw label category_map.csv maps
    categories: tuple[str, ...]  # distinct clean category names, in file order


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"reference file {path} is missing")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} lacks column(s) {', '.join(missing)}")
        rows = [row for row in reader if any(value.strip() for value in row.values())]
    if not rows:
        raise ValueError(f"{path} has no rows")
    return rows


def load_reference(seeds_dir: Path = DEFAULT_SEEDS_DIR) -> Reference:
    """Read and cross-check the three seeds the generator depends on."""
    currencies = _read_csv(seeds_dir / "currencies.csv", ("currency_code", "eur_per_unit"))
    countries = _read_csv(seeds_dir / "countries.csv", ("country_code", "currency_code"))
    category_map = _read_csv(seeds_dir / "category_map.csv", ("raw_category", "category"))

    currency_codes = tuple(row["currency_code"].strip() for row in currencies)
    if UNKNOWN_CURRENCY in currency_codes:
        raise ValueError(f"currencies.csv must not define {UNKNOWN_CURRENCY}: it marks a defect")
    eur_per_unit = np.array([float(row["eur_per_unit"]) for row in currencies])
    if (eur_per_unit <= 0).any():
        raise ValueError("currencies.csv: eur_per_unit must be positive")

    position = {code: i for i, code in enumerate(currency_codes)}
    country_codes = tuple(row["country_code"].strip() for row in countries)
    try:
        country_currency = np.array([position[row["currency_code"].strip()] for row in countries])
    except KeyError as error:
        raise ValueError(f"countries.csv uses currency {error} that currencies.csv lacks") from None

    raw_categories = tuple(row["raw_category"] for row in category_map)
    categories = tuple(dict.fromkeys(row["category"] for row in category_map))
    return Reference(
        country_codes=country_codes,
        currency_codes=currency_codes,
        eur_per_unit=eur_per_unit,
        country_currency=country_currency.astype(np.int64),
        raw_categories=raw_categories,
        categories=categories,
    )
