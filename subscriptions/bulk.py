"""Fast multi-row INSERT for the hot paths: on PostgreSQL one INSERT ... SELECT FROM unnest() with binary,
server-side-bound array parameters; elsewhere Django's bulk_create (model instances) or executemany (plain rows).

Why: Django binds parameters client side with psycopg 3 (ClientCursor), and its bulk_create on PostgreSQL quotes
every array element in Python; for a 500-event batch that quoting costs more than the database's own work.
Same rows, same transaction (the Django connection's), ids set on the objects like bulk_create does.
"""

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from psycopg import Cursor
from psycopg.types.json import Jsonb

from subscriptions.core.jsontext import compact_bytes

BATCH = 1000


def bulk_insert(model, objs):
    """Insert `objs` (unsaved model instances) in the current transaction; set their primary keys; return them."""
    if not objs:
        return objs
    if connection.vendor != "postgresql" or len(objs) < 2:
        return model.objects.bulk_create(objs, batch_size=BATCH)
    pk = model._meta.pk
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays = ", ".join(array_cast(f) for f in fields)
    auto_pk = isinstance(pk, models.AutoField)
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) SELECT * FROM unnest({arrays})"
    if auto_pk:
        sql += f" RETURNING {connection.ops.quote_name(pk.column)}"
    connection.ensure_connection()
    for start in range(0, len(objs), BATCH):
        chunk = objs[start:start + BATCH]
        params = [[_value(f, obj) for obj in chunk] for f in fields]
        with connection.wrap_database_errors, Cursor(connection.connection) as cursor:  # Django's exception classes
            cursor.execute(sql, params, binary=True)
            if auto_pk:
                for obj, (value,) in zip(chunk, cursor.fetchall()):
                    setattr(obj, pk.attname, value)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


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
        sql, arrays = unnest_insert_new(model, key_fields)
    for start in range(0, len(objs), size):
        chunk = objs[start:start + size]
        if postgres:
            with connection.wrap_database_errors, Cursor(connection.connection) as cursor:
                cursor.execute(sql, arrays(chunk), binary=True)
                rows = cursor.fetchall()
        else:
            row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(chunk))}{tail}"
            params = [f.get_db_prep_save(getattr(obj, f.attname), wrapper) for obj in chunk for f in fields]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
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


def unnest_insert_new(model, key_fields):
    """PostgreSQL: (insert_new's statement for one chunk, a function turning instances into its binary array
    parameters). It returns the primary key and the key fields of each row it inserted; recording's one-statement
    store (pipeline/postgres.py) puts it in a CTE."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not isinstance(f, models.AutoField)]
    keys = [meta.get_field(name) for name in key_fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    casts = ", ".join(array_cast(f) for f in fields)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT * FROM unnest({casts}){_new_rows_only(meta, keys)}"

    def arrays(objs):
        return [[_value(f, obj) for obj in objs] for f in fields]

    return sql, arrays


def _new_rows_only(meta, keys) -> str:
    """insert_new's tail: a row clashing on `keys` is skipped; the primary key and keys of each inserted one return."""
    quote = connection.ops.quote_name
    returning = ", ".join(quote(f.column) for f in [meta.pk, *keys])
    return f" ON CONFLICT ({', '.join(quote(f.column) for f in keys)}) DO NOTHING RETURNING {returning}"


def array_cast(field) -> str:
    """The placeholder of a binary array parameter holding `field`'s values: %b::<its column type>[] (no length)."""
    return f"%b::{field.db_type(connection).split('(')[0]}[]"


def _wrapper():
    """This thread's connection itself: get_db_prep_save reads it for every value, and each read through the
    `connection` proxy is a thread-local lookup (asgiref's Local): 15% of storing a batch on SQLite."""
    return connections[DEFAULT_DB_ALIAS]


def _value(field, obj):
    value = getattr(obj, field.attname)
    if isinstance(field, models.JSONField):
        return Jsonb(value, compact_bytes)
    return value


def insert_rows(model, field_names, rows):
    """Insert plain tuples (one value per name in `field_names`, as the model's fields take them) in the current
    transaction, without building model instances or reading ids back. On PostgreSQL one binary unnest() INSERT
    per BATCH rows; elsewhere one prepared INSERT run with executemany. Values go through each field's
    get_db_prep_save off PostgreSQL, so JSON and datetimes are stored as the ORM stores them."""
    if not rows:
        return
    connection.ensure_connection()
    if connection.vendor != "postgresql":
        fields = [model._meta.get_field(name) for name in field_names]
        quote = connection.ops.quote_name
        table, columns = quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        wrapper = _wrapper()
        prepared = [[f.get_db_prep_save(value, wrapper) for f, value in zip(fields, row)] for row in rows]
        with connection.cursor() as cursor:
            cursor.executemany(sql, prepared)
        return
    sql, arrays = unnest_insert(model, field_names)
    for start in range(0, len(rows), BATCH):
        with connection.wrap_database_errors, Cursor(connection.connection) as cursor:
            cursor.execute(sql, arrays(rows[start:start + BATCH]), binary=True)


def unnest_insert(model, field_names):
    """PostgreSQL: (an INSERT of one row per element of binary array parameters, a function turning tuples into
    those parameters), for insert_rows and for statements that write more than one table at once."""
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    table, columns = quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields)
    casts = ", ".join(array_cast(f) for f in fields)
    json_columns = [isinstance(f, models.JSONField) for f in fields]

    def arrays(rows):
        return [[Jsonb(row[i], compact_bytes) if json_columns[i] else row[i] for row in rows] for i in range(len(fields))]

    return f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({casts})", arrays
