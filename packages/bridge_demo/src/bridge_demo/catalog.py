"""What the demo registers: one APISmith connection, five APIs, one SyncFlow source and
five entities (request bodies as the two services' APIs take them).

Entities are listed parents first, the order the demo syncs them in. Small tables use
the ``hash`` strategy (every run reads all rows, and deletes are detected); parts and
shop orders carry IFS's ``ROWVERSION`` and are read incrementally. Field mappings turn
the ERP's text costs and dates into numbers and timestamps and rename IFS columns.
"""

from typing import Any

CONNECTION_NAME = "demo-erp"
SOURCE_NAME = "demo-erp"
SERVICE_TOKEN_NAME = "syncflow-demo"
ADMIN_USERNAME = "demo-admin"

APIS: list[dict[str, Any]] = [
    {
        "slug": "ifs-sites",
        "name": "Sites",
        "description": "IFS sites (CONTRACT)",
        "sql": "SELECT contract, description, company, country_code FROM ifsapp.site_tab",
        "business_keys": ["contract"],
        "delta_strategy": "hash",
    },
    {
        "slug": "ifs-work-centers",
        "name": "Work centers",
        "description": "IFS work centers per site",
        "sql": (
            "SELECT contract, work_center_no, description, work_center_code, "
            "average_capacity, efficiency FROM ifsapp.work_center_tab"
        ),
        "business_keys": ["contract", "work_center_no"],
        "delta_strategy": "hash",
    },
    {
        "slug": "ifs-inventory-parts",
        "name": "Inventory parts",
        "description": "IFS inventory parts per site, with ROWVERSION",
        "sql": (
            "SELECT contract, part_no, description, unit_meas, part_status, type_code, "
            "planner_buyer, inventory_value, expected_leadtime, create_date, rowversion "
            "FROM ifsapp.inventory_part_tab"
        ),
        "business_keys": ["contract", "part_no"],
        "rowversion_column": "rowversion",
        "delta_strategy": "rowversion",
    },
    {
        "slug": "ifs-shop-orders",
        "name": "Shop orders",
        "description": "IFS shop orders (ORDER_NO, RELEASE_NO, SEQUENCE_NO), with ROWVERSION",
        "sql": (
            "SELECT order_no, release_no, sequence_no, contract, part_no, revised_qty_due, "
            "org_start_date, revised_due_date, objstate, rowversion FROM ifsapp.shop_ord_tab"
        ),
        "business_keys": ["order_no", "release_no", "sequence_no"],
        "rowversion_column": "rowversion",
        "delta_strategy": "rowversion",
    },
    {
        "slug": "ifs-shop-order-operations",
        "name": "Shop order operations",
        "description": "IFS shop order operations (OPERATION_NO) on work centers",
        "sql": (
            "SELECT order_no, release_no, sequence_no, operation_no, contract, work_center_no, "
            "operation_description, mach_setup_time, mach_run_factor, op_start_date "
            "FROM ifsapp.shop_order_operation_tab"
        ),
        "business_keys": ["order_no", "release_no", "sequence_no", "operation_no"],
        "delta_strategy": "hash",
    },
]


def _fields(*names: str, **mapped: dict[str, Any]) -> list[dict[str, Any]]:
    """Field mappings: ``names`` as they are, then ``mapped`` source fields with options."""
    return [{"source_field": name} for name in names] + [
        {"source_field": source, **options} for source, options in mapped.items()
    ]


ENTITIES: list[dict[str, Any]] = [
    {"name": "sites", "api_slug": "ifs-sites"},
    {
        "name": "work_centers",
        "api_slug": "ifs-work-centers",
        "field_mappings": _fields(
            "contract",
            "work_center_no",
            "description",
            "efficiency",
            work_center_code={
                "target_field": "kind",
                "transform": {"map": {"I": "internal", "O": "outside"}},
            },
            average_capacity={"target_field": "capacity_hours", "type": "numeric"},
        ),
        "parent_refs": [{"parent_entity": "sites", "fields": ["contract"]}],
    },
    {
        "name": "inventory_parts",
        "api_slug": "ifs-inventory-parts",
        "page_size": 250,
        "field_mappings": _fields(
            "contract",
            "part_no",
            "description",
            "type_code",
            "planner_buyer",
            unit_meas={"transform": "lower"},
            part_status={
                "target_field": "status",
                "transform": {"map": {"A": "active", "I": "phase-out", "O": "obsolete"}},
            },
            inventory_value={"target_field": "unit_cost", "type": "numeric"},
            expected_leadtime={"target_field": "lead_time_days"},
            create_date={"target_field": "created_at", "type": "timestamp"},
        ),
        "parent_refs": [{"parent_entity": "sites", "fields": ["contract"]}],
    },
    {
        "name": "shop_orders",
        "api_slug": "ifs-shop-orders",
        "page_size": 250,
        "field_mappings": _fields(
            "order_no",
            "release_no",
            "sequence_no",
            "contract",
            "part_no",
            revised_qty_due={"target_field": "qty_due"},
            org_start_date={"target_field": "start_at"},
            revised_due_date={"target_field": "due_date", "type": "date"},
            objstate={"target_field": "status", "transform": "lower"},
        ),
        "parent_refs": [
            {"parent_entity": "inventory_parts", "fields": ["contract", "part_no"]},
        ],
    },
    {
        "name": "shop_order_operations",
        "api_slug": "ifs-shop-order-operations",
        "page_size": 1000,
        "field_mappings": _fields(
            "order_no",
            "release_no",
            "sequence_no",
            "operation_no",
            "contract",
            "work_center_no",
            operation_description={"target_field": "description"},
            mach_setup_time={"target_field": "setup_hours", "type": "numeric"},
            mach_run_factor={"target_field": "run_factor"},
            op_start_date={"target_field": "start_at"},
        ),
        "parent_refs": [
            {
                "parent_entity": "shop_orders",
                "fields": ["order_no", "release_no", "sequence_no"],
            },
            {"parent_entity": "work_centers", "fields": ["contract", "work_center_no"]},
        ],
    },
]

ENTITY_NAMES = [entity["name"] for entity in ENTITIES]
