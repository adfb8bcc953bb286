"""Runs generated `kv_sync` request sequences through openmodule 18.5's real KV store, for the
differential test in `../differential.rs`. Reads JSON on stdin:

    {"workdir": "...", "name": "om_kvdiff", "resource": "dev-1",
     "sequences": [{"layout": "single" | "multi" | "children",
                    "requests": ["<the raw bytes of a request envelope, as text>", ...]}, ...]}

Each sequence gets a fresh SQLite file, openmodule's `Database`, `KVStoreHandler` and `RPCServer`;
each request goes the way openmodule's RPC server takes a message off the bus: `orjson.loads`
(a message that is not a JSON object is dropped), `RPCRequest` validation, `process_rpc`
(resource filter, request validation, the service filter, the handler), and the reply is
encoded as `RPCResponse.json_bytes()` would publish it (a reply that cannot be encoded is not
sent). Writes one JSON line per sequence: for each request, the reply (`null` when none) and the
tables afterwards, and for the notifying store the keys its change notification reported.

The stores (their `parse_value` is mirrored in `differential.rs`):
- single:   one store serving NAME, table kv_plain;
- multi:    NAME_a (kv_a) and NAME_b (kv_b, a KVStoreWithChangedNotification);
- children: NAME_c (kv_c), each value's `children` strings becoming kv_child rows (a foreign key
            ON DELETE CASCADE, so replaced entries lose their old children in both systems).
A value is stored as `describe(value)`; a dict with a `reject` key is refused by parse_value.
"""

import json
import os
import struct
import sys
import types

NAME = "om_kvdiff"
RESOURCE = "dev-1"

config = types.ModuleType("config")
config.NAME = NAME
config.RESOURCE = RESOURCE
config.VERSION = "0"
config.DEBUG = False
config.TESTING = True
sys.modules["config"] = config
os.environ["SETTINGS_MODULE"] = "config"

import logging  # noqa: E402

logging.disable(logging.CRITICAL)

import orjson  # noqa: E402
import zmq  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from sqlalchemy import ForeignKey, Integer, String  # noqa: E402
from sqlalchemy.orm import Mapped, mapped_column, relationship  # noqa: E402

import openmodule.database.database as om_database  # noqa: E402
from openmodule.models.rpc import RPCRequest, RPCResponse  # noqa: E402
from openmodule.rpc.server import RPCServer  # noqa: E402
from openmodule.utils.kv_store import (  # noqa: E402
    Base,
    KVEntry,
    KVStore,
    KVStoreHandler,
    KVStoreWithChangedNotification,
)


def describe(value, depth=0):
    """A text that tells every JSON value apart (float bits, int digits, key order), the
    same in `differential.rs`; below three levels only the kind and size."""
    if value is None:
        return "n"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, int):
        return "i%d" % value
    if isinstance(value, float):
        return "d%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]
    if isinstance(value, str):
        return "s" + json.dumps(value, ensure_ascii=False)
    if depth >= 3:
        return "%s%d" % ("L" if isinstance(value, list) else "D", len(value))
    if isinstance(value, list):
        return "[" + ",".join(describe(v, depth + 1) for v in value) + "]"
    return "{" + ",".join(
        json.dumps(k, ensure_ascii=False) + ":" + describe(value[k], depth + 1) for k in sorted(value)
    ) + "}"


def parse(cls, value, child_cls=None):
    if isinstance(value, dict) and "reject" in value:
        raise ValueError("rejected by parse_value")
    row = cls(descr=describe(value))
    rows = [row]
    if child_cls is not None and isinstance(value, dict) and isinstance(value.get("children"), list):
        for name in value["children"]:
            if not isinstance(name, str):
                raise ValueError("a child is a string")
            rows.append(child_cls(entry=row, name=name))
    return rows


def entry_class(name, table, children=False, notifies=False):
    """A KVEntry table with a `descr` column, its value's `describe`; `children`: the value's
    `children` strings become kv_child rows; `notifies`: `descr` is its comparison value."""
    attrs = {
        "__tablename__": table,
        "__annotations__": {"descr": Mapped[str]},
        "descr": mapped_column(String, nullable=False),
        "parse_value": classmethod(lambda cls, value: parse(cls, value, Child if children else None)),
    }
    if notifies:
        attrs["comparison_value"] = lambda self: self.descr
    return type(name, (Base, KVEntry), attrs)


Plain = entry_class("Plain", "kv_plain")
A = entry_class("A", "kv_a")
B = entry_class("B", "kv_b", notifies=True)
C = entry_class("C", "kv_c", children=True)


class Child(Base):
    __tablename__ = "kv_child"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String, ForeignKey("kv_c.key", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String, nullable=False)
    entry = relationship(C)


class PlainStore(KVStore):
    database_table = Plain


class AStore(KVStore):
    database_table = A
    suffix = "a"


class BStore(KVStoreWithChangedNotification):
    database_table = B
    suffix = "b"
    notes = None

    def _send_changed_notification(self, new_values, old_values):
        BStore.notes.append(self._find_changed_kvs(new_values, old_values))


class CStore(KVStore):
    database_table = C
    suffix = "c"


LAYOUTS = {
    "single": ([PlainStore], ["kv_plain"]),
    "multi": ([AStore, BStore], ["kv_a", "kv_b"]),
    "children": ([CStore], ["kv_c", "kv_child"]),
}

# Tables as the migrations would make them (openmodule runs Alembic in a child process).
om_database.execute_migration = lambda engine, *_args, **_kwargs: Base.metadata.create_all(engine)


def process(server, payload):
    """`RPCServer._process_rpc_message` for topic `rpc-req-kv_sync`, returning the reply."""
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    channel = "kv_sync"
    if channel not in server.registered_channels:
        return None
    try:
        request = RPCRequest.model_validate(message)
        message_type, rpc_id = request.type, request.rpc_id
    except ValidationError as e:
        message_type, rpc_id = "unknown", None
        response = {"status": "validation_error", "exception": e.json()}
    else:
        response = server.process_rpc(channel, request)
    if response is None:
        return None
    if "status" not in response:
        response["status"] = "ok"
    try:
        result = RPCResponse(type=message_type, rpc_id=rpc_id, response=response, name=NAME)
        return orjson.loads(result.json_bytes())["response"]
    except Exception:  # noqa: BLE001 - openmodule logs it and sends nothing
        return None


def dump(db, tables):
    out = {}
    with db() as session:
        for table in tables:
            if table == "kv_child":
                rows = session.execute(
                    Child.__table__.select().with_only_columns(Child.key, Child.name)
                ).all()
                out[table] = sorted([r[0], r[1]] for r in rows)
            else:
                t = Base.metadata.tables[table]
                rows = session.execute(t.select().with_only_columns(t.c.key, t.c.e_tag, t.c.descr)).all()
                out[table] = sorted([r[0], r[1], r[2]] for r in rows)
    return out


def run_sequence(workdir, index, sequence):
    stores, tables = LAYOUTS[sequence["layout"]]
    folder = os.path.join(workdir, f"seq{index}")
    db = om_database.Database(folder, "database")
    server = RPCServer(zmq.Context.instance())
    handler = KVStoreHandler(db, object(), *stores)
    handler.register_rpcs(server)
    results = []
    for payload in sequence["requests"]:
        BStore.notes = []
        reply = process(server, payload.encode("utf-8", "surrogatepass"))
        results.append(
            {
                "reply": reply,
                "tables": dump(db, tables),
                "notes": [sorted(n) for n in BStore.notes],
            }
        )
    server.shutdown()
    db.shutdown()
    return results


def main():
    request = json.load(sys.stdin)
    for index, sequence in enumerate(request["sequences"]):
        print(json.dumps(run_sequence(request["workdir"], index, sequence)), flush=True)


if __name__ == "__main__":
    main()
