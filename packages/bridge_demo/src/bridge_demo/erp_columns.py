"""The sample ERP's tables' columns, in the order of the rows ``erp_rows`` makes."""

SITE_COLUMNS = ("contract", "description", "company", "country_code", "rowversion")
WORK_CENTER_COLUMNS = (
    "contract",
    "work_center_no",
    "description",
    "work_center_code",
    "average_capacity",
    "efficiency",
    "rowversion",
)
INVENTORY_PART_COLUMNS = (
    "contract",
    "part_no",
    "description",
    "unit_meas",
    "part_status",
    "type_code",
    "planner_buyer",
    "inventory_value",
    "expected_leadtime",
    "create_date",
    "rowversion",
)
SHOP_ORDER_COLUMNS = (
    "order_no",
    "release_no",
    "sequence_no",
    "contract",
    "part_no",
    "revised_qty_due",
    "org_start_date",
    "revised_due_date",
    "objstate",
    "rowversion",
)
OPERATION_COLUMNS = (
    "order_no",
    "release_no",
    "sequence_no",
    "operation_no",
    "contract",
    "work_center_no",
    "operation_description",
    "mach_setup_time",
    "mach_run_factor",
    "op_start_date",
    "rowversion",
)
