"""Fast multi-row INSERT for the hot paths: on PostgreSQL one INSERT ... SELECT from ONE JSON document (the rows as
arrays, written by orjson in C, taken apart by the server); elsewhere one multi-row INSERT or executemany.

Why: Django binds parameters client side with psycopg 3 (ClientCursor) and quotes every value in Python; binary
array parameters are bound server side but still cost a dumper call per value (a batch of 250 events with their
deliveries: ~37 µs of Python per event, against ~14 µs as one document, measured with bench/dispatch.py's
messages). The delivery worker's record (delivery/postgres.py) reads its rows the same way. Same rows, same
transaction (the Django connection's).
"""

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from psycopg import Cursor

from subscriptions.core.jsontext import rows_json

BATCH = 1000


def document_values(fields, row: str = "r") -> list[str]:
    """SQL reading element i of the document's row `row` (a row of core.jsontext.rows_json) as fields[i]'s column:
    the JSON value for a JSON column (a null one as SQL NULL, as the ORM saves None), else its text cast to the
    column's type (no length: the column checks it, as an INSERT of a longer text always failed)."""
    values = []
    for i, field in enumerate(fields):
        if isinstance(field, models.JSONField):
            values.append(f"nullif({row}->{i}, 'null'::jsonb)" if field.null else f"{row}->{i}")
        else:
            values.append(f"({row}->>{i})::{field.db_type(connection).split('(')[0]}")
    return values


def _select_from_document(fields) -> str:
    """SELECT each row of the statement's one document parameter as `fields`' values, in the rows' order (the ids
    follow it)."""
    return (f"SELECT {', '.join(document_values(fields))} "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS rows(r, place) ORDER BY place")


def insert_new(model, objs, key_fields):
    """INSERT those of `objs` (unsaved instances) that clash with no stored row (nor an earlier one of `objs`) on the
    unique `key_fields`, in the current transaction: one INSERT ... ON CONFLICT DO NOTHING RETURNING per BATCH rows.
    Sets the primary keys of the inserted ones and returns them, in order. Any other refusal (a constraint, a
    trigger) raises, as it should: only a repeated key is expected here."""
    if not objs:
        return []
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not isinstance(f, models.AutoField)]
    keys = [meta.get_field(name) for name in key_fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    tail = _new_rows_only(meta, keys)
    table = quote(meta.db_table)
    connection.ensure_connection()
    found = []
    postgres = connection.vendor == "postgresql"
    wrapper = _wrapper()
    size = BATCH if postgres else max(1, 900 // len(fields))  # SQLite binds at most a few hundred parameters well
    if postgres:
        sql, params = insert_new_statement(model, key_fields)
    for start in range(0, len(objs), size):
        chunk = objs[start:start + size]
        if postgres:
            with connection.wrap_database_errors, Cursor(connection.connection) as cursor:
                cursor.execute(sql, params(chunk), binary=True)
                rows = cursor.fetchall()
        else:
            row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(chunk))}{tail}"
            values = [f.get_db_prep_save(getattr(obj, f.attname), wrapper) for obj in chunk for f in fields]
            with connection.cursor() as cursor:
                cursor.execute(sql, values)
                rows = cursor.fetchall()
        found += rows
    return adopt_inserted(model, objs, found, key_fields)


def adopt_inserted(model, objs, rows, key_fields) -> list:
    """Those of `objs` the (pk, *key fields) `rows` returned by an insert name, in order, with their primary keys
    set and marked saved, as bulk_create leaves them."""
    meta = model._meta
    keys = [meta.get_field(name) for name in key_fields]
    inserted = {tuple(key): pk for pk, *key in rows}
    created = []
    for obj in objs:
        pk = inserted.pop(tuple(getattr(obj, f.attname) for f in keys), None)
        if pk is not None:
            setattr(obj, meta.pk.attname, pk)
            obj._state.adding = False
            obj._state.db = connection.alias
            created.append(obj)
    return created


def insert_new_statement(model, key_fields):
    """PostgreSQL: (insert_new's statement for one chunk, a function turning instances into its one parameter). It
    returns the primary key and the key fields of each row it inserted, in the instances' order; recording's
    one-statement store (pipeline/postgres.py) puts it in a CTE."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not isinstance(f, models.AutoField)]
    keys = [meta.get_field(name) for name in key_fields]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"{_select_from_document(fields)}{_new_rows_only(meta, keys)}")
    attnames = [f.attname for f in fields]

    def params(objs):
        return [rows_json([[getattr(obj, name) for name in attnames] for obj in objs])]

    return sql, params


def _new_rows_only(meta, keys) -> str:
    """insert_new's tail: a row clashing on `keys` is skipped; the primary key and keys of each inserted one return."""
    quote = connection.ops.quote_name
    returning = ", ".join(quote(f.column) for f in [meta.pk, *keys])
    return f" ON CONFLICT ({', '.join(quote(f.column) for f in keys)}) DO NOTHING RETURNING {returning}"


def _wrapper():
    """This thread's connection itself: get_db_prep_save reads it for every value, and each read through the
    `connection` proxy is a thread-local lookup (asgiref's Local): 15% of storing a batch on SQLite."""
    return connections[DEFAULT_DB_ALIAS]


def insert_rows(model, field_names, rows):
    """Insert plain tuples (one value per name in `field_names`, as the model's fields take them) in the current
    transaction, without building model instances or reading ids back. On PostgreSQL one INSERT from a document per
    BATCH rows; elsewhere one prepared INSERT run with executemany. Values go through each field's
    get_db_prep_save off PostgreSQL, so JSON and datetimes are stored as the ORM stores them."""
    if not rows:
        return
    connection.ensure_connection()
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    table, columns = quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields)
    if connection.vendor != "postgresql":
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        wrapper = _wrapper()
        prepared = [[f.get_db_prep_save(value, wrapper) for f, value in zip(fields, row)] for row in rows]
        with connection.cursor() as cursor:
            cursor.executemany(sql, prepared)
        return
    sql = f"INSERT INTO {table} ({columns}) {_select_from_document(fields)}"
    for start in range(0, len(rows), BATCH):
        with connection.wrap_database_errors, Cursor(connection.connection) as cursor:
            cursor.execute(sql, [rows_json(rows[start:start + BATCH])], binary=True)
