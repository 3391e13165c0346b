"""What a saved query may contain: the node allow-list and the deny-lists behind it.

A node type is accepted only when it is listed in ``ALLOWED_NODES`` (or is a
subclass of a listed base) and not in ``DENIED_NODES``; anything sqlglot grows
later is refused until someone adds it here on purpose. Functions are allowed by
default (ERP queries call vendor and package functions freely), except those
named in the deny-lists: well-known functions with side effects, file or network
access, or the power to run another SQL string.
"""

from sqlglot import exp

_READ_ONLY = "is not allowed: a saved query may only read data"

# node type -> why it is refused; checked before ALLOWED_NODES. exp.Command (a statement
# sqlglot could only keep as raw text) is refused too, by validate.py, naming its keyword.
DENIED_NODES: dict[type[exp.Expr], str] = {
    exp.Insert: f"INSERT {_READ_ONLY}",
    exp.Update: f"UPDATE {_READ_ONLY}",
    exp.Delete: f"DELETE {_READ_ONLY}",
    exp.Merge: f"MERGE {_READ_ONLY}",
    exp.Copy: f"COPY {_READ_ONLY}",
    exp.LoadData: f"LOAD DATA {_READ_ONLY}",
    exp.Create: f"CREATE {_READ_ONLY}",
    exp.Drop: f"DROP {_READ_ONLY}",
    exp.Alter: f"ALTER {_READ_ONLY}",
    exp.AlterSession: f"ALTER SESSION {_READ_ONLY}",
    exp.TruncateTable: f"TRUNCATE {_READ_ONLY}",
    exp.Grant: f"GRANT {_READ_ONLY}",
    exp.Revoke: f"REVOKE {_READ_ONLY}",
    exp.Comment: f"COMMENT ON {_READ_ONLY}",
    exp.Execute: f"EXECUTE {_READ_ONLY}",
    exp.StoredProcedure: f"a stored procedure call {_READ_ONLY}",
    exp.Block: f"a procedural block {_READ_ONLY}",
    exp.Set: f"SET {_READ_ONLY}",
    exp.Use: f"USE {_READ_ONLY}",
    exp.Transaction: f"BEGIN TRANSACTION {_READ_ONLY}",
    exp.Commit: f"COMMIT {_READ_ONLY}",
    exp.Rollback: f"ROLLBACK {_READ_ONLY}",
    exp.Pragma: f"PRAGMA {_READ_ONLY}",
    exp.Declare: f"DECLARE {_READ_ONLY}",
    exp.Kill: f"KILL {_READ_ONLY}",
    exp.Analyze: f"ANALYZE {_READ_ONLY}",
    exp.Describe: "EXPLAIN / DESCRIBE is not allowed: a saved query must be a SELECT",
    exp.Show: "SHOW is not allowed: a saved query must be a SELECT",
    exp.Into: f"SELECT ... INTO (it writes a table or variable) {_READ_ONLY}",
    exp.Lock: f"a locking clause (FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE) {_READ_ONLY}",
    exp.Returning: f"RETURNING {_READ_ONLY}",
    exp.OnConflict: f"ON CONFLICT {_READ_ONLY}",
    exp.NextValueFor: f"NEXT VALUE FOR (it advances a sequence) {_READ_ONLY}",
    exp.PropertyEQ: "an assignment (:=) is not allowed: a saved query may not set variables",
    exp.Parameter: "variables (@name, @@name, $1) are not allowed: use named parameters (:name)",
    exp.SessionParameter: "session variables (@@name) are not allowed",
}

# read-only building blocks of a query; subclasses of the bases are allowed too
ALLOWED_NODES: tuple[type[exp.Expr], ...] = (
    # statements and clauses
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Subquery,
    exp.With,
    exp.CTE,
    exp.From,
    exp.Join,
    exp.Lateral,
    exp.Where,
    exp.Group,
    exp.Rollup,
    exp.Cube,
    exp.GroupingSets,
    exp.Having,
    exp.Qualify,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.LimitOptions,
    exp.Offset,
    exp.Fetch,
    exp.Distinct,
    exp.Connect,
    exp.Prior,
    exp.Pivot,
    exp.Window,
    exp.WindowSpec,
    exp.Filter,
    exp.WithinGroup,
    exp.RespectNulls,
    exp.IgnoreNulls,
    exp.TableSample,
    exp.Values,
    exp.Hint,
    exp.JoinHint,
    exp.WithTableHint,
    exp.IndexTableHint,
    exp.QueryOption,
    exp.ForClause,
    exp.XMLKeyValueOption,
    exp.XMLNamespace,
    exp.RecursiveWithSearch,
    exp.Version,
    exp.UnpivotColumns,
    exp.PivotAny,
    # names and values
    exp.Table,
    exp.TableAlias,
    exp.Alias,
    exp.Aliases,
    exp.Column,
    exp.Identifier,
    exp.Star,
    exp.Dot,
    exp.Bracket,
    exp.Slice,
    exp.Tuple,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.Var,
    exp.Placeholder,
    exp.Introducer,
    exp.National,
    exp.HexString,
    exp.BitString,
    exp.ByteString,
    exp.RawString,
    exp.UnicodeString,
    exp.DataType,
    exp.DataTypeParam,
    exp.Interval,
    exp.Kwarg,
    exp.JSONPath,
    exp.JSONPathPart,
    exp.JSONKeyValue,
    exp.JSONSchema,
    exp.JSONColumnDef,
    exp.FormatJson,
    exp.OnCondition,
    exp.AtTimeZone,
    exp.FromTimeZone,
    exp.TranslateCharacters,
    exp.CharacterSet,
    exp.OverflowTruncateBehavior,
    # expressions: operators, predicates and functions (functions are checked by name)
    exp.Func,
    exp.Binary,
    exp.Unary,
    exp.Predicate,
)

# lower-case function names (and schema or package qualifiers) that are never allowed
DENIED_FUNCTIONS: frozenset[str] = frozenset(
    {
        # PostgreSQL
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_logdir_ls",
        "pg_promote",
        "pg_switch_wal",
        "pg_notify",
        "pg_import_system_collations",
        "pg_log_backend_memory_contexts",
        "set_config",
        "nextval",
        "setval",
        "txid_current",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        # MySQL / MariaDB
        "sleep",
        "benchmark",
        "load_file",
        "sys_exec",
        "sys_eval",
        "get_lock",
        "release_lock",
        "release_all_locks",
        "master_pos_wait",
        "source_pos_wait",
        "wait_for_executed_gtid_set",
        # SQL Server
        "openrowset",
        "opendatasource",
        "openquery",
        "openxml",
        "fn_get_audit_file",
        "fn_xe_file_target_read_file",
        "fn_trace_gettable",
        "fn_dblog",
        "fn_dump_dblog",
        # Oracle
        "httpuritype",
        "ctxsys",
        "ordsys",
        # SQLite
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        # files, as sqlglot names them for other engines
        "read_csv",
        "read_parquet",
        "to_file",
    }
)

DENIED_FUNCTION_PREFIXES: tuple[str, ...] = (
    "pg_advisory",
    "pg_try_advisory",
    "pg_ls_",
    "pg_file_",
    "pg_create_",
    "pg_drop_",
    "pg_replication_",
    "pg_logical_",
    "pg_backup_",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_wal_replay_",
    "pg_stat_reset",
    "lo_",
    "dblink",
    "xp_",
    "sp_",
    "dbms_",
    "utl_",
    "owa_",
)

# T-SQL table hints that take or hold update/exclusive locks on the ERP's tables
DENIED_TABLE_HINTS: frozenset[str] = frozenset(
    {"updlock", "xlock", "tablock", "tablockx", "holdlock", "serializable", "repeatableread"}
)


def is_denied_function(name: str) -> bool:
    """Whether a function name (or a qualifier in front of it) is on the deny-lists."""
    lowered = name.lower()
    return lowered in DENIED_FUNCTIONS or lowered.startswith(DENIED_FUNCTION_PREFIXES)
