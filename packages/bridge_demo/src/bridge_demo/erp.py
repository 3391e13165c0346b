"""The sample ERP database: (re)created, filled, and changed between the demo's syncs.

The tables live in schema ``ifsapp`` with IFS's ``*_TAB`` names. Text columns hold
what legacy interfaces deliver (costs and dates as text), typed columns hold typed
values; ``inventory_part_tab`` has no primary key, as an interface table would not, so
it can hold a row without a part number. Rows come from :mod:`bridge_demo.erp_rows`.
"""

import asyncpg
from sqlalchemy.engine import URL

from bridge_core.db.engine import asyncpg_dsn, recreate_database
from bridge_demo.erp_columns import (
    INVENTORY_PART_COLUMNS,
    OPERATION_COLUMNS,
    SHOP_ORDER_COLUMNS,
    SITE_COLUMNS,
    WORK_CENTER_COLUMNS,
)
from bridge_demo.erp_rows import ErpChanges, SampleErp

SCHEMA = "ifsapp"

DDL = """
CREATE SCHEMA ifsapp;
CREATE TABLE ifsapp.site_tab (
    contract         varchar(5) PRIMARY KEY,
    description      varchar(100),
    company          varchar(20),
    country_code     varchar(2),
    rowversion       timestamp(0) NOT NULL DEFAULT localtimestamp(0)
);
CREATE TABLE ifsapp.work_center_tab (
    contract         varchar(5) NOT NULL,
    work_center_no   varchar(5) NOT NULL,
    description      varchar(100),
    work_center_code varchar(1),
    average_capacity varchar(20),
    efficiency       numeric(5, 2),
    rowversion       timestamp(0) NOT NULL DEFAULT localtimestamp(0),
    PRIMARY KEY (contract, work_center_no)
);
CREATE TABLE ifsapp.inventory_part_tab (
    contract          varchar(5),
    part_no           varchar(25),
    description       varchar(200),
    unit_meas         varchar(10),
    part_status       varchar(2),
    type_code         varchar(20),
    planner_buyer     varchar(20),
    inventory_value   varchar(30),
    expected_leadtime numeric(6, 1),
    create_date       varchar(30),
    rowversion        timestamp(0) NOT NULL DEFAULT localtimestamp(0)
);
CREATE TABLE ifsapp.shop_ord_tab (
    order_no         varchar(12) NOT NULL,
    release_no       varchar(4) NOT NULL,
    sequence_no      varchar(4),
    contract         varchar(5) NOT NULL,
    part_no          varchar(25) NOT NULL,
    revised_qty_due  numeric(12, 2),
    org_start_date   timestamp(0),
    revised_due_date varchar(30),
    objstate         varchar(20),
    rowversion       timestamp(0) NOT NULL DEFAULT localtimestamp(0)
);
CREATE TABLE ifsapp.shop_order_operation_tab (
    order_no              varchar(12) NOT NULL,
    release_no            varchar(4) NOT NULL,
    sequence_no           varchar(4) NOT NULL,
    operation_no          integer NOT NULL,
    contract              varchar(5) NOT NULL,
    work_center_no        varchar(5) NOT NULL,
    operation_description varchar(200),
    mach_setup_time       varchar(20),
    mach_run_factor       numeric(10, 4),
    op_start_date         timestamp(0),
    rowversion            timestamp(0) NOT NULL DEFAULT localtimestamp(0),
    PRIMARY KEY (order_no, release_no, sequence_no, operation_no)
);
"""

_TABLES = (
    ("site_tab", SITE_COLUMNS, "sites"),
    ("work_center_tab", WORK_CENTER_COLUMNS, "work_centers"),
    ("inventory_part_tab", INVENTORY_PART_COLUMNS, "inventory_parts"),
    ("shop_ord_tab", SHOP_ORDER_COLUMNS, "shop_orders"),
    ("shop_order_operation_tab", OPERATION_COLUMNS, "operations"),
)


async def create_erp(url: URL, erp: SampleErp) -> dict[str, int]:
    """A fresh ERP database at ``url`` holding ``erp``; returns the row count per table."""
    await recreate_database(url)
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        async with conn.transaction():
            await conn.execute(DDL)
            for table, columns, attribute in _TABLES:
                await conn.copy_records_to_table(
                    table, schema_name=SCHEMA, columns=columns, records=getattr(erp, attribute)
                )
    finally:
        await conn.close()
    return {attribute: len(getattr(erp, attribute)) for _, _, attribute in _TABLES}


async def apply_changes(url: URL, changes: ErpChanges) -> None:
    """Make ``changes`` in one ERP transaction; changed rows get a new ``ROWVERSION``."""
    now = "rowversion = localtimestamp(0)"
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        async with conn.transaction():
            await conn.executemany(
                f"UPDATE ifsapp.work_center_tab SET efficiency = efficiency + 1, {now} "
                "WHERE contract = $1 AND work_center_no = $2",
                changes.work_center_updates,
            )
            await conn.executemany(
                f"UPDATE ifsapp.inventory_part_tab "
                f"SET expected_leadtime = expected_leadtime + 1, {now} "
                "WHERE contract = $1 AND part_no = $2",
                changes.part_updates,
            )
            await conn.executemany(
                f"UPDATE ifsapp.shop_ord_tab "
                f"SET objstate = 'Started', revised_qty_due = revised_qty_due + 5, {now} "
                "WHERE order_no = $1 AND release_no = $2 AND sequence_no = $3",
                changes.shop_order_updates,
            )
            await conn.executemany(
                f"UPDATE ifsapp.shop_order_operation_tab "
                f"SET mach_run_factor = mach_run_factor + 0.5, {now} "
                "WHERE order_no = $1 AND release_no = $2 AND sequence_no = $3 "
                "AND operation_no = $4",
                changes.operation_updates,
            )
            await conn.executemany(
                "DELETE FROM ifsapp.shop_order_operation_tab "
                "WHERE order_no = $1 AND release_no = $2 AND sequence_no = $3 "
                "AND operation_no = $4",
                changes.operation_deletes,
            )
            for table, columns, rows in (
                ("work_center_tab", WORK_CENTER_COLUMNS, changes.work_center_inserts),
                ("inventory_part_tab", INVENTORY_PART_COLUMNS, changes.part_inserts),
                ("shop_ord_tab", SHOP_ORDER_COLUMNS, changes.shop_order_inserts),
                ("shop_order_operation_tab", OPERATION_COLUMNS, changes.operation_inserts),
            ):
                # the rowversion (last column) is left to its default: the time of the change
                await conn.copy_records_to_table(
                    table, schema_name=SCHEMA, columns=columns[:-1], records=rows
                )
    finally:
        await conn.close()
