# ruff: noqa: RUF001  (the sample data holds non-ASCII look-alikes on purpose)
"""The sample ERP's rows: IFS-like planning data, messy on purpose, the same on every run.

Five tables as IFS names them (``CONTRACT`` is the site): sites, work centers,
inventory parts, shop orders (``ORDER_NO``/``RELEASE_NO``/``SEQUENCE_NO``) and their
operations (``OPERATION_NO``), each with an IFS-style ``ROWVERSION`` (the time of the
last change). Values arrive the way legacy interfaces deliver them: padded text, CR LF,
control characters, non-ASCII and decomposed accents, costs as ``"1,234.50"``,
``"$12.00"``, ``"1.234,50 €"`` or ``"(8.00)"``, dates as ``"31-DEC-25"``,
``"08.12.2025 10:30"``, ``"12/08/2025"`` or ``"20251208"``. A few rows are bad (a NULL
key, ``"12,5"``, ``"n/a"``, ``"31/12/2025"``, ``"30.02.2026"``) and four shop orders
name a part that is created only by :func:`erp_changes` (children before parents).

Everything here is pure: :func:`sample_erp` and :func:`erp_changes` return rows as
tuples in the column order of ``erp_columns``, from a fixed seed.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bridge_demo.erp_text import date_text, messy, money_text, oracle_date

SEED = 20251208

Row = tuple[Any, ...]

SITES: list[tuple[str, str, str, str]] = [
    ("M10", "  Linz Hauptwerk ", "IFSAT", "AT"),
    ("M20", "Brno – Montáž", "IFSCZ", "CZ"),
    ("S10", "Malmö Service\r\nCenter", "IFSSE", "SE"),
    ("W01", "Zentrallager Wels\x07", "IFSAT", "AT"),
]
MANUFACTURING_SITES = ("M10", "M20")

# work center kind: (code, description, operation text, internal/outside)
WORK_CENTER_KINDS = [
    ("SAW", "Bandsäge", "Sägen", "I"),
    ("CNC", "CNC-Fräszentrum", "Fräsen", "I"),
    ("LAT", "Drehmaschine", "Drehen", "I"),
    ("WLD", "Schweißroboter", "Schweißen", "I"),
    ("PNT", "Lackierkabine (Fremdfertigung)", "Lackieren", "O"),
    ("ASY", "Montagelinie", "Montieren", "I"),
    ("QC", "Qualitätsprüfung", "Prüfen", "I"),
    ("PCK", "Verpackung", "Verpacken", "I"),
]
WORK_CENTERS_PER_SITE = 10
CATALOG_PARTS = 220
PARTS_PER_SITE = 150
SHOP_ORDERS = 480
SPLIT_ORDER_SHARE = 0.08  # orders released in two parts: RELEASE_NO 1 and 2

DESCRIPTIONS = [
    "Welle Ø{a} mm h6",
    "Lagerbuchse Ø{a} – gehärtet",
    "Sechskantschraube M{b}×{c} DIN 933",
    "Rillenkugellager 62{b:02d}-2RS",
    "Getriebegehäuse Größe {b}",
    "Elektromotor 24 V – {c}0 W",
    "Kabelbaum {c}0 mm",
    "O-Ring {a}×2,5 NBR 70",
    "Steuerplatine Rev. {b}",
    "軸受ハウジング {a}",
    "Flansch DN{c} PN16",
    "Zahnrad m{b} z={c}",
    "Pre\u0301zisionsring {a}",  # a decomposed accent: NFC makes it one character
]
OBJSTATES = ["Planned", "Released", "Released", "Reserved", "Started", "Closed"]

BASE_TIME = datetime(2025, 11, 3, 6, 0)  # ERP wall-clock time (no offset), like IFS DATEs


@dataclass
class SampleErp:
    """The ERP as first created."""

    sites: list[Row] = field(default_factory=list)
    work_centers: list[Row] = field(default_factory=list)
    inventory_parts: list[Row] = field(default_factory=list)
    shop_orders: list[Row] = field(default_factory=list)
    operations: list[Row] = field(default_factory=list)


# rows made bad on purpose, per entity (every read of them counts as failed)
BAD_ROWS = {
    "sites": 0,
    "work_centers": 1,
    "inventory_parts": 4,
    "shop_orders": 2,
    "shop_order_operations": 3,
}
LATE_PARTS = ("MA-70001", "MA-70002", "MA-70003", "MA-70004")


@dataclass
class ErpChanges:
    """What happens in the ERP between the first and the incremental sync.

    Keys are the tables' business keys; ``*_update`` rows get a new value and a new
    ``ROWVERSION``; inserted rows are full rows (their ``ROWVERSION`` is the database's
    current time, so the row tuples leave it out).
    """

    work_center_updates: list[tuple[str, str]]
    work_center_inserts: list[Row]
    part_updates: list[tuple[str, str]]
    part_inserts: list[Row]
    shop_order_updates: list[tuple[str, str, str]]
    shop_order_inserts: list[Row]
    operation_updates: list[tuple[str, str, str, int]]
    operation_inserts: list[Row]
    operation_deletes: list[tuple[str, str, str, int]]

    def expected(self) -> dict[str, dict[str, int]]:
        """Per entity: the inserts, updates, deletes and resolved parked children these
        changes cause in the incremental sync (the late parts' batch also frees the
        operations parked behind their orders: those are counted there on top)."""
        return {
            "sites": {"inserted": 0, "updated": 0, "deleted": 0, "resolved": 0},
            "work_centers": {
                "inserted": len(self.work_center_inserts),
                "updated": len(self.work_center_updates),
                "deleted": 0,
                "resolved": 0,
            },
            "inventory_parts": {
                "inserted": len(self.part_inserts),
                "updated": len(self.part_updates),
                "deleted": 0,
                "resolved": len(LATE_PARTS),
            },
            "shop_orders": {
                "inserted": len(self.shop_order_inserts),
                "updated": len(self.shop_order_updates),
                "deleted": 0,
                "resolved": 0,
            },
            "shop_order_operations": {
                "inserted": len(self.operation_inserts),
                "updated": len(self.operation_updates),
                "deleted": len(self.operation_deletes),
                "resolved": 0,
            },
        }

    def total(self) -> int:
        """How many ERP rows change."""
        return sum(len(rows) for rows in vars(self).values())


def _rowversions() -> Iterator[datetime]:
    """Distinct, growing change times: one a few seconds after the other."""
    moment = BASE_TIME
    step = random.Random(SEED + 1)
    while True:
        moment += timedelta(seconds=step.randint(1, 90))
        yield moment


def _work_centers(rng: random.Random, rowversion: Iterator[datetime]) -> list[Row]:
    rows: list[Row] = []
    for contract, *_ in SITES:
        for index in range(WORK_CENTERS_PER_SITE):
            code, name, _, kind = WORK_CENTER_KINDS[index % len(WORK_CENTER_KINDS)]
            number = index // len(WORK_CENTER_KINDS) + 1
            capacity = rng.choice(["7.5", "8", " 16 ", "24.00", "1e1", "16.0"])
            rows.append(
                (
                    contract,
                    f"{code}{number}",
                    messy(rng, f"{name} {number}"),
                    kind,
                    capacity,
                    Decimal(rng.randint(70, 100)),
                    next(rowversion),
                )
            )
    # bad: a capacity nobody can read as a number
    rows.append(
        ("M10", "TMP1", "Leihmaschine (temporär)", "O", "approx. 8", Decimal(80), next(rowversion))
    )
    return rows


def _catalog(rng: random.Random) -> list[tuple[str, str, str]]:
    """``(part_no, description, type_code)`` of every part any site stocks."""
    parts = []
    for number in range(CATALOG_PARTS):
        manufactured = rng.random() < 0.6
        prefix, type_code = ("MA", "Manufactured") if manufactured else ("PU", "Purchased")
        template = rng.choice(DESCRIPTIONS)
        text = template.format(a=rng.randint(6, 80), b=rng.randint(1, 12), c=rng.randint(3, 40))
        parts.append((f"{prefix}-{10000 + number}", text, type_code))
    return parts


def _part_row(
    rng: random.Random, contract: str, part: tuple[str, str, str], rowversion: datetime | None
) -> Row:
    part_no, text, type_code = part
    value = Decimal(rng.randint(50, 250_000)) / 100
    created = datetime(rng.randint(1998, 2025), rng.randint(1, 12), rng.randint(1, 28), 9, 15)
    row = (
        contract,
        part_no,
        messy(rng, text),
        rng.choice(["pcs", "PCS", " pcs", "pcs ", "kg", "m"]),
        rng.choice(["A", "A", "A", " A", "I", "O"]),
        type_code,
        rng.choice(["*", "JOHANNA", "MKOVAR", " LNYSTROM", "PETRA.H"]),
        "1e3" if rng.random() < 0.01 else money_text(rng, value),
        Decimal(rng.randint(1, 60)),
        date_text(rng, created),
    )
    return row if rowversion is None else (*row, rowversion)


def _inventory_parts(
    rng: random.Random, catalog: list[tuple[str, str, str]], rowversion: Iterator[datetime]
) -> list[Row]:
    rows = [
        _part_row(rng, contract, part, next(rowversion))
        for contract, *_ in SITES
        for part in sorted(rng.sample(catalog, PARTS_PER_SITE))
    ]
    bad = [
        ("M10", None, "Teil ohne Nummer", "pcs", "A", "Purchased", "*", "5.00"),
        ("M10", "PU-99001", "Dichtring 12,5 mm", "pcs", "A", "Purchased", "*", "12,5"),
        ("M20", "PU-99002", "Scheibe DIN 125", "pcs", "A", "Purchased", "*", "n/a"),
        ("S10", "PU-99003", "Spannstift", "pcs", "A", "Purchased", "*", "0.40"),
    ]
    created = ["2024-01-10", "2024-01-10", "2024-01-10", "31/12/2025"]  # month 31: refused
    rows += [
        (*row, Decimal(5), when, next(rowversion)) for row, when in zip(bad, created, strict=True)
    ]
    return rows


def _shop_order_row(
    rng: random.Random, key: tuple[str, str, str | None], contract: str, part_no: str
) -> Row:
    start = BASE_TIME + timedelta(days=rng.randint(-20, 60), hours=rng.choice([6, 14, 22]))
    due = start + timedelta(days=rng.randint(3, 30))
    due_text = rng.choice([oracle_date(due.date()), due.strftime("%Y-%m-%d")])
    due_text = rng.choice([due_text, due.strftime("%d.%m.%Y"), due.strftime("%Y%m%d")])
    objstate = rng.choice(OBJSTATES)
    return (
        *key,
        contract,
        part_no,
        Decimal(rng.choice([1, 2, 5, 10, 20, 25, 50, 100, 250, 500])),
        start,
        due_text,
        f"{objstate}  " if rng.random() < 0.1 else objstate,
    )


def _operations_of(rng: random.Random, order: Row, centers: list[Row], count: int) -> list[Row]:
    """``count`` operations (10, 20, ...) of ``order`` on work centers of its site."""
    rows = []
    start: datetime = order[6]
    for index in range(count):
        center = rng.choice(centers)
        code = center[1].rstrip("0123456789")
        text = next(kind[2] for kind in WORK_CENTER_KINDS if kind[0] == code)
        rows.append(
            (
                *order[:3],
                (index + 1) * 10,
                order[3],
                center[1],
                messy(rng, f"{text} {order[4]}"),
                rng.choice(["0.5", "0.25", " 1 ", "1.50", "2", "0.75"]),
                Decimal(rng.randint(1, 400)) / 100,
                start + timedelta(hours=4 * index),
            )
        )
    return rows


def sample_erp() -> SampleErp:
    """The ERP's rows as first created (the same on every call)."""
    rng = random.Random(SEED)
    rowversion = _rowversions()
    erp = SampleErp()
    erp.sites = [(*site, next(rowversion)) for site in SITES]
    erp.work_centers = _work_centers(rng, rowversion)
    catalog = _catalog(rng)
    erp.inventory_parts = _inventory_parts(rng, catalog, rowversion)

    made_here = {
        contract: [
            row[1]
            for row in erp.inventory_parts
            if row[0] == contract and row[1] and row[1].startswith("MA-")
        ]
        for contract in MANUFACTURING_SITES
    }
    good_centers = {
        contract: [row for row in erp.work_centers if row[0] == contract and row[1] != "TMP1"]
        for contract in MANUFACTURING_SITES
    }
    orders: list[Row] = []
    for number in range(SHOP_ORDERS):
        contract = MANUFACTURING_SITES[0] if rng.random() < 0.6 else MANUFACTURING_SITES[1]
        part_no = rng.choice(made_here[contract])
        releases = ["1", "2"] if rng.random() < SPLIT_ORDER_SHARE else ["*"]
        for release in releases:
            orders.append(
                _shop_order_row(rng, (str(100001 + number), release, "*"), contract, part_no)
            )
    # children before parents: their part is created only by the ERP changes
    late = [
        _shop_order_row(rng, (str(100950 + i), "*", "*"), "M10", part_no)
        for i, part_no in enumerate(LATE_PARTS)
    ]
    operations = [
        op
        for order in orders + late
        for op in _operations_of(rng, order, good_centers[order[3]], rng.randint(3, 5))
    ]
    # bad: a decimal comma where a decimal point is expected ("12,5" is refused, not guessed)
    for index in (7, 211, 1303):
        operations[index] = (*operations[index][:7], "1,5", *operations[index][8:])
    # bad: a due date that does not exist, and a NULL SEQUENCE_NO
    no_such_day = _shop_order_row(rng, ("100900", "*", "*"), "M10", made_here["M10"][0])
    bad_orders = [
        (*no_such_day[:7], "30.02.2026", "Planned"),
        _shop_order_row(rng, ("100901", "*", None), "M20", made_here["M20"][0]),
    ]
    erp.shop_orders = [(*row, next(rowversion)) for row in orders + late + bad_orders]
    erp.operations = [(*op, next(rowversion)) for op in operations]
    return erp


def erp_changes(erp: SampleErp) -> ErpChanges:
    """The changes made between the syncs: updates, new rows, deletes, the late parts."""
    rng = random.Random(SEED + 2)
    good_parts = sorted(
        (row for row in erp.inventory_parts if row[1] and not row[1].startswith("PU-99")),
        key=lambda row: (row[0], row[1]),
    )
    catalog = _catalog(random.Random(SEED))
    late_parts = [
        _part_row(
            rng, "M10", (part_no, f"Sondergetriebe {i + 1} – Kundenauftrag", "Manufactured"), None
        )
        for i, part_no in enumerate(LATE_PARTS)
    ]
    new_parts = [
        _part_row(rng, "M20", (f"MA-{80001 + i}", catalog[i][1], "Manufactured"), None)
        for i in range(6)
    ]

    good_orders = [
        row
        for row in erp.shop_orders
        if row[2] is not None and row[0] != "100900" and row[4] not in LATE_PARTS
    ]
    released = [row for row in good_orders if row[8].strip() == "Released"]
    made_at_m10 = [row[1] for row in good_parts if row[0] == "M10" and row[1].startswith("MA-")]
    new_orders = [
        _shop_order_row(rng, (str(101001 + i), "*", "*"), "M10", made_at_m10[i]) for i in range(5)
    ]
    centers = [row for row in erp.work_centers if row[0] == "M10" and row[1] != "TMP1"]
    new_operations = [op for order in new_orders for op in _operations_of(rng, order, centers, 3)]

    bad_operations = {row[:4] for row in erp.operations if row[7] == "1,5"}
    late_orders = {row[0] for row in erp.shop_orders if row[4] in LATE_PARTS}
    candidates = [
        row[:4]
        for row in erp.operations
        if row[:4] not in bad_operations and row[0] not in late_orders
    ]
    deletes = candidates[-4:]
    return ErpChanges(
        work_center_updates=[row[:2] for row in erp.work_centers[:2]],
        work_center_inserts=[("M20", "CNC9", "CNC-Fräszentrum 9 (neu)", "I", "16", Decimal(90))],
        part_updates=[row[:2] for row in good_parts[:25]],
        part_inserts=late_parts + new_parts,
        shop_order_updates=[row[:3] for row in released[:20]],
        shop_order_inserts=new_orders,
        operation_updates=candidates[:30],
        operation_inserts=new_operations,
        operation_deletes=deletes,
    )
