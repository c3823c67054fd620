"""The writer matching rows again by the keys other writers left (`KeyChanges.resolve`): pure
functions over planned rows."""

from __future__ import annotations

import orjson

from server.imports import copyformat
from server.imports.matchkeys import KeyChanges
from server.imports.writer import PlannedRow

DOCUMENT = orjson.dumps({"text": {"value": "v", "text": "v"}})


def row(line: int, key: str, status: str, *matched: int | str, name: str = "n") -> PlannedRow:
    planned = PlannedRow(line=line, cells=[], status=status, name=name, document=DOCUMENT)
    planned.key, planned.matched = key, list(matched)
    if status in ("updated", "skipped") and matched and isinstance(matched[0], int):
        planned.item_id = matched[0]
    if matched and isinstance(matched[0], str):
        planned.match_line = int(matched[0].removeprefix("line:"))
    return planned


def changes(behaviour: str = "UPSERT", **keys: str | None) -> KeyChanges:
    found = KeyChanges(behaviour=behaviour, match_column="email")
    for item, key in keys.items():
        found.absorb(int(item.removeprefix("i")), key)
    return found


def test_nothing_changed_leaves_every_row_as_planned() -> None:
    rows = [row(2, "a", "created"), row(3, "b", "updated", 7)]
    assert KeyChanges(behaviour="UPSERT", match_column="email").resolve(rows, {}) == []
    assert [(r.status, r.item_id) for r in rows] == [("created", None), ("updated", 7)]


def test_a_key_another_writer_created_is_updated_instead_of_created_twice() -> None:
    rows = [row(2, "a", "created"), row(3, "b", "created")]
    assert changes(i9="a").resolve(rows, {}) == []
    assert [(r.status, r.item_id, r.sets) for r in rows] == [
        ("updated", 9, ["text"]),
        ("created", None, []),
    ]


def test_a_key_given_up_is_created_once_and_matched_by_the_rows_after() -> None:
    rows = [row(2, "a", "updated", 7), row(3, "a", "updated", 7)]
    keys = changes(i7="z")
    waiting = keys.resolve(rows, {})
    assert [r.status for r in rows] == ["created", "updated"]
    assert waiting == [(rows[1], rows[0])]
    # a later chunk: the row matches the item the first row created
    later = [row(9, "a", "updated", 7)]
    assert keys.resolve(later, {2: 50}) == []
    assert (later[0].status, later[0].item_id) == ("updated", 50)


def test_a_key_now_held_twice_is_refused_and_nothing_changed() -> None:
    rows = [row(2, "a", "updated", 7)]
    changes(i9="a").resolve(rows, {})
    assert rows[0].status == "invalid" and rows[0].errors[0]["code"] == "MULTIPLE_MATCHES"


def test_a_multiple_match_resolved_by_a_cleared_key_updates_the_item_left() -> None:
    rows = [row(2, "a", "invalid", 7, 8)]
    changes(i8=None).resolve(rows, {})
    assert (rows[0].status, rows[0].item_id, rows[0].errors) == ("updated", 7, [])


def test_a_match_on_an_earlier_rows_item_follows_that_item_when_its_key_changes() -> None:
    rows = [row(5, "a", "updated", "line:2")]
    changes(i50="b").resolve(rows, {2: 50})
    assert (rows[0].status, rows[0].item_id, rows[0].match_line) == ("created", None, None)


def test_update_mode_skips_a_row_whose_item_gave_up_its_key_and_updates_one_given_it() -> None:
    rows = [row(2, "a", "updated", 7), row(3, "b", "skipped")]
    changes("UPDATE", i7="b").resolve(rows, {})
    assert [(r.status, r.item_id) for r in rows] == [("skipped", None), ("updated", 7)]


def test_a_nameless_row_whose_item_gave_up_its_key_cannot_create_one() -> None:
    rows = [row(2, "a", "updated", 7, name="")]
    changes(i7=None).resolve(rows, {})
    assert rows[0].status == "invalid" and rows[0].errors[0]["code"] == "MISSING_NAME"


def test_skip_leaves_alone_an_item_given_the_key_meanwhile() -> None:
    rows = [row(2, "a", "created")]
    changes("SKIP", i9="a").resolve(rows, {})
    assert (rows[0].status, rows[0].item_id) == ("skipped", 9)


def test_claimed_keys_are_those_other_writers_hold_now() -> None:
    keys = changes(i9="a", i8="b")
    keys.absorb(8, "c")
    assert keys.claimed(["a"]) and keys.claimed(["c"])
    assert not keys.claimed(["b", "d"])


def test_new_items_encoded_for_copy_are_claimed_by_the_keys_read_back_from_them() -> None:
    tail = copyformat.ItemTail(board_id=100, group_id="topics", creator_id=1)
    document = orjson.dumps({"email": {"value": {"email": "a"}, "text": "a"}})
    tails = [tail.encode("Ada", document), tail.encode("Bob", b"{}")]
    assert copyformat.name_and_document(tails[0]) == ("Ada", document)
    assert changes(i9="a").claimed_by_any(tails)
    assert not changes(i9="b").claimed_by_any(tails)
    assert not changes().claimed_by_any(tails)  # nothing changed: nothing read back
    by_name = KeyChanges(behaviour="UPSERT", match_column="name")
    by_name.absorb(9, "Bob")
    assert by_name.claimed_by_any(tails)
