"""Control-number reservations on SQLite and PostgreSQL (I4, F51)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine, func, select, update

from edi.store import Reservation, peek, reserve, set_next
from edi.store.control_numbers import control_number, control_number_reservation

US = ("ZZ", "VENDOR1")
AMAZON = ("ZZ", "AMAZON")
OTHER = ("01", "123456789")


def _reserve(
    engine: Engine,
    sender: tuple[str, str] = US,
    receiver: tuple[str, str] = AMAZON,
    *,
    groups: int = 1,
    sets_per_group: int = 1,
) -> Reservation:
    """Reserve in a transaction of its own and commit."""
    with engine.begin() as conn:
        return reserve(
            conn,
            sender=sender,
            receiver=receiver,
            groups=groups,
            sets_per_group=sets_per_group,
            purpose="test",
        )


def _preset(engine: Engine, kind: str, *, last_value: int | None = None, wrap_at: int | None = None) -> None:
    """Create the counter if needed, then set its raw columns (as a migration or DBA might)."""
    with engine.begin() as conn:
        if peek(conn, US, AMAZON, kind) is None:  # type: ignore[arg-type]
            set_next(conn, US, AMAZON, kind, value=1, reason="test preset")  # type: ignore[arg-type]
        values = {k: v for k, v in (("last_value", last_value), ("wrap_at", wrap_at)) if v is not None}
        conn.execute(update(control_number).where(control_number.c.kind == kind).values(**values))


def test_f51_sequential_values(engine: Engine) -> None:
    """Reservations hand out 1, 2, 3 ... for ISA13 and GS06."""
    got = [_reserve(engine) for _ in range(5)]
    assert [r.isa13 for r in got] == [1, 2, 3, 4, 5]
    assert [r.group_numbers for r in got] == [(1,), (2,), (3,), (4,), (5,)]


def test_f51_isa_and_gs_counters_are_independent(engine: Engine) -> None:
    """Several groups advance GS06 only; ISA13 still moves by one per interchange."""
    first = _reserve(engine, groups=3, sets_per_group=4)
    second = _reserve(engine, groups=2)
    third = _reserve(engine, groups=0)
    assert (first.isa13, first.group_numbers) == (1, (1, 2, 3))
    assert (second.isa13, second.group_numbers) == (2, (4, 5))
    assert (third.isa13, third.group_numbers) == (3, ())
    assert list(first.set_numbers(2)) == [1, 2, 3, 4]
    with pytest.raises(IndexError):
        first.set_numbers(3)


def test_f51_pairs_are_independent(engine: Engine) -> None:
    """Each (sender, receiver) pair has its own counters; direction matters."""
    assert _reserve(engine).isa13 == 1
    assert _reserve(engine, receiver=OTHER).isa13 == 1
    assert _reserve(engine, sender=AMAZON, receiver=US).isa13 == 1
    assert _reserve(engine).isa13 == 2
    assert _reserve(engine, sender=("ZZ", "VENDOR1        "), receiver=(" ZZ", "AMAZON ")).isa13 == 3


def test_i4_rollback_leaves_no_gap(engine: Engine) -> None:
    """Numbers reserved in a rolled-back transaction are handed out again, with no gap."""
    assert _reserve(engine).isa13 == 1
    with engine.connect() as conn, conn.begin() as tx:
        assert reserve(conn, sender=US, receiver=AMAZON, purpose="lost").isa13 == 2
        tx.rollback()
    nxt = _reserve(engine)
    assert (nxt.isa13, nxt.group_numbers) == (2, (2,))
    with engine.connect() as conn:
        purposes = conn.execute(select(control_number_reservation.c.purpose)).scalars().all()
    assert "lost" not in purposes


def test_f51_every_reservation_is_audited(engine: Engine) -> None:
    """Each reservation writes one audit row with its numbers and purpose."""
    with engine.begin() as conn:
        res = reserve(conn, sender=US, receiver=AMAZON, groups=2, sets_per_group=7, purpose="855 PO X1")
    with engine.connect() as conn:
        row = conn.execute(
            select(control_number_reservation).where(control_number_reservation.c.id == res.reservation_id)
        ).one()
        count = conn.execute(select(func.count()).select_from(control_number_reservation)).scalar_one()
    assert count == 1
    assert (row.isa13, row.gs06, row.gs06_last, row.st02_first, row.st02_last) == (1, 1, 2, 1, 7)
    assert row.purpose == "855 PO X1"
    assert row.reserved_at.utcoffset().total_seconds() == 0


def test_f51_wrap_at_999999999(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """From 999999990, twenty reservations wrap to 1 with a warning and no collision."""
    _preset(engine, "ISA", last_value=999_999_990)
    _preset(engine, "GS", last_value=999_999_990)
    with caplog.at_level(logging.WARNING, logger="edi.store"):
        got = [_reserve(engine) for _ in range(20)]
    isa = [r.isa13 for r in got]
    assert isa == [*range(999_999_991, 1_000_000_000), *range(1, 12)]
    assert [r.group_numbers[0] for r in got] == isa
    assert len(set(isa)) == 20
    wraps = [r for r in caplog.records if r.getMessage() == "control number counter wrapped"]
    assert {r.kind for r in wraps} == {"ISA", "GS"}  # type: ignore[attr-defined]


def test_f51_wrap_inside_one_reservation(engine: Engine) -> None:
    """Groups that straddle a small preset wrap_at continue from 1 without skipping."""
    _preset(engine, "GS", last_value=3, wrap_at=5)
    assert _reserve(engine, groups=4).group_numbers == (4, 5, 1, 2)
    with engine.connect() as conn:
        assert peek(conn, US, AMAZON, "GS") == 3
    with pytest.raises(ValueError, match="wraps at 5"):
        _reserve(engine, groups=6)


def test_peek_does_not_reserve(engine: Engine) -> None:
    """Peek shows the next value (None before first use) and reserves nothing."""
    with engine.connect() as conn:
        assert peek(conn, US, AMAZON, "ISA") is None
    _reserve(engine)
    with engine.connect() as conn:
        assert peek(conn, US, AMAZON, "ISA") == 2
        assert peek(conn, US, AMAZON, "ISA") == 2
    assert _reserve(engine).isa13 == 2


def test_set_next_is_audited(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """An admin override sets the next value and writes an 'admin:' audit row; backwards warns."""
    _reserve(engine)
    with engine.begin() as conn:
        set_next(conn, US, AMAZON, "ISA", value=500, reason="partner expects 500")
    assert _reserve(engine).isa13 == 500
    with caplog.at_level(logging.WARNING, logger="edi.store"), engine.begin() as conn:
        set_next(conn, US, AMAZON, "GS", value=1, reason="reset after partner cut-over")
    assert any("backwards" in r.getMessage() for r in caplog.records)
    with engine.connect() as conn:
        rows = conn.execute(
            select(control_number_reservation)
            .where(control_number_reservation.c.purpose.like("admin:%"))
            .order_by(control_number_reservation.c.id)
        ).all()
    assert [(r.purpose, r.isa13, r.gs06, r.previous_last_value) for r in rows] == [
        ("admin:partner expects 500", 500, None, 1),
        ("admin:reset after partner cut-over", None, 1, 2),
    ]
    with engine.begin() as conn, pytest.raises(ValueError, match="outside"):
        set_next(conn, US, AMAZON, "ISA", value=0, reason="bad")
    with engine.begin() as conn, pytest.raises(ValueError, match="reason"):
        set_next(conn, US, AMAZON, "ISA", value=5, reason=" ")


def test_reserve_requires_a_transaction(engine: Engine) -> None:
    """Reserving outside the caller's transaction is refused rather than silently autocommitted."""
    with engine.connect() as conn, pytest.raises(ValueError, match="transaction"):
        reserve(conn, sender=US, receiver=AMAZON, purpose="x")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"groups": -1}, "groups"),
        ({"sets_per_group": 0}, "sets_per_group"),
        ({"purpose": ""}, "purpose"),
        ({"sender": ("ZZZ", "X")}, "qualifier"),
        ({"receiver": ("ZZ", "X" * 16)}, "receiver id"),
    ],
)
def test_reserve_rejects_bad_arguments(engine: Engine, kwargs: dict[str, object], match: str) -> None:
    """Bad arguments are rejected before anything is reserved."""
    args: dict[str, object] = {"sender": US, "receiver": AMAZON, "purpose": "x", **kwargs}
    with engine.begin() as conn, pytest.raises(ValueError, match=match):
        reserve(conn, **args)  # type: ignore[arg-type]
