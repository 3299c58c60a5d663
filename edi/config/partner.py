"""Per-partner settings: ``<mappings>/<partner>/partner.yaml``, read strictly and validated (pydantic).

Everything the order pipeline decides per trading partner lives here rather than in code: the 855
deadline and its alarm, the hot-PO rules (order types, ship-window length, an explicit list), the
backorder policy, the 856 version and the ship-from party. The 855 status-code family lives in the
855 mapping's ``constants`` (it is what that mapping writes). A missing file means Amazon's defaults.

```yaml
partner: amazon
interchange:                # which interchanges are this partner's (ISA05/06 and ISA07/08 as QQ/ID)
  partner_ids: [ZZ/AMAZON]
  our_ids: [ZZ/VENDORCO]
test_interchanges: ignore   # ISA15 T: 997 sent, no order (process: treat as real, on a test connection)
acknowledgement:
  deadline_hours: 24        # Amazon expects the 855 within 24 h of the 850
  alarm_hours: 20           # raise a DEADLINE exception when no 855 has gone out by then
  backorders: as_ordered    # as_ordered: backorder under CSH*Y, reject under CSH*N; never: always reject
  price_mismatch: warn      # PO104 differs from the cross-reference's cost: warn (log it) or hold the PO
  reject_unknown_items_at_hours: 22   # a PO held only by unknown items: answer them rejected (R2) then,
                                      # so the 855 is not late; off: keep holding
  expect_997_within_hours: 12         # our 855/856 without the partner's 997 by then: ACK_MISSING (off: never)
hot_po:
  order_types: [rush]       # BEG02 RO
  ship_window_days: 5       # a ship window (DTM*063 - BEG05) this short or shorter makes a PO hot (off: none)
  list_file: hot-pos.txt    # optional: one PO number per line ('#' comments); re-read on every run
ship_notice:
  version: "005010"         # "004010" for partners still on the 4010 ASN
  ship_from: { name: VENDOR DC, street: 100 MAIN ST, city: SAINT LOUIS, state: MO, postal_code: "63101", country: US }
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from edi.config.loader import ConfigFinding, YamlError, load_yaml, validation_findings

PARTNER_FILE = "partner.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _off(value: object) -> object:
    """``off`` turns an optional number setting off (YAML scalars are strings here: ``null`` is not special)."""
    if isinstance(value, str) and value.strip().lower() == "off":
        return None
    if isinstance(value, str) and value.strip().lower() in ("null", "none", "~", ""):
        raise ValueError(f"{value!r} is not a number; write off to turn this setting off")
    return value


OptionalHours = Annotated[int | None, BeforeValidator(_off)]


class AckSettings(_Section):
    """When the 855 is due and how partial fills are answered."""

    deadline_hours: int = Field(default=24, ge=1, le=24 * 14)
    alarm_hours: int = Field(default=20, ge=1, le=24 * 14)
    backorders: Literal["as_ordered", "never"] = "as_ordered"
    price_mismatch: Literal["warn", "hold"] = "warn"
    reject_unknown_items_at_hours: OptionalHours = Field(default=22, ge=1, le=24 * 14)
    expect_997_within_hours: OptionalHours = Field(default=12, ge=1, le=24 * 14)

    @model_validator(mode="after")
    def _alarm_before_deadline(self) -> AckSettings:
        if self.alarm_hours >= self.deadline_hours:
            raise ValueError(f"alarm_hours ({self.alarm_hours}) must come before deadline_hours "
                             f"({self.deadline_hours}): the alarm is the warning")
        late = self.reject_unknown_items_at_hours
        if late is not None and late >= self.deadline_hours:
            raise ValueError(f"reject_unknown_items_at_hours ({late}) must come before deadline_hours "
                             f"({self.deadline_hours}): the 855 has to go out on time")
        return self


class HotPoSettings(_Section):
    """Which POs are hot: allocated first, flagged in the exception log and reports."""

    order_types: tuple[Literal["standard", "rush", "new_product", "consigned"], ...] = ("rush",)
    ship_window_days: OptionalHours = Field(default=5, ge=0, le=365)
    list_file: str | None = Field(default=None, description="PO numbers, one per line, beside partner.yaml")


class ShipFrom(_Section):
    """The ship-from party of the 856 (N1*SF)."""

    name: str = Field(min_length=1, max_length=60)
    street: str | None = Field(default=None, max_length=55)
    city: str | None = Field(default=None, max_length=30)
    state: str | None = Field(default=None, min_length=2, max_length=2)
    postal_code: str | None = Field(default=None, max_length=15)
    country: str | None = Field(default=None, min_length=2, max_length=3)


class ShipNoticeSettings(_Section):
    """How the 856 is written."""

    version: Literal["005010", "004010"] = "005010"
    ship_from: ShipFrom = ShipFrom(name="VENDOR DC")


_ISA_ID = r"^[0-9A-Z]{2}/[^/\s][^/]{0,14}$"


class InterchangeSettings(_Section):
    """Which interchanges belong to this partner: ISA sender and receiver, written ``QQ/ID`` (``ZZ/AMAZON``)."""

    partner_ids: tuple[Annotated[str, Field(pattern=_ISA_ID)], ...] = Field(
        default=(), description="ISA05/ISA06 the partner sends from; an interchange from one of them is theirs")
    our_ids: tuple[Annotated[str, Field(pattern=_ISA_ID)], ...] = Field(
        default=(), description="ISA07/ISA08 the partner sends to (empty: any)")


class PartnerFile(_Section):
    """The schema of ``partner.yaml``."""

    partner: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    interchange: InterchangeSettings = InterchangeSettings()
    guide_layer: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$", description=(
        "the implementation-guide layer its files are validated with (a folder of edi/x12/maps/partners/, "
        "or none for the bare 004010 standard); default: the layer named like the partner, if there is one"))
    test_interchanges: Literal["ignore", "process"] = "ignore"
    strip_line_breaks: bool = Field(default=False, description=(
        "remove CR/LF inside segments before validation (a partner whose files are hard-wrapped at 80 "
        "columns); reported as LINE_BREAKS_STRIPPED when used"))
    acknowledgement: AckSettings = AckSettings()
    hot_po: HotPoSettings = HotPoSettings()
    ship_notice: ShipNoticeSettings = ShipNoticeSettings()


_ACK, _HOT, _SHIP = AckSettings(), HotPoSettings(), ShipNoticeSettings()


def shipped_layers() -> frozenset[str]:
    """The partner guide layers this installation ships (folders of edi/x12/maps/partners/)."""
    from importlib import resources  # noqa: PLC0415

    folder = resources.files("edi.x12").joinpath("maps", "partners")
    return frozenset(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def _layer(value: str | None, partner: str, path: Path) -> str | None:
    if value is None or value == "none":
        return value
    if value not in shipped_layers():
        raise YamlError([ConfigFinding("CFG_INVALID", f"guide_layer: no layer {value!r} (shipped: "
                                       f"{', '.join(sorted(shipped_layers())) or 'none'}; or none)", None,
                                       "name a shipped layer, or none for the bare standard", str(path))])
    del partner
    return value


@dataclass(frozen=True)
class PartnerSettings:
    """Per-partner behaviour the pipeline applies (Amazon's defaults unless ``partner.yaml`` says otherwise).

    The defaults are the schema's (``PartnerFile``), so one place says what Amazon's are.
    """

    partner: str = "amazon"
    mappings_dir: Path = Path("mappings/amazon")
    test_interchanges: str = PartnerFile.model_fields["test_interchanges"].default
    partner_ids: tuple[str, ...] = ()
    our_ids: tuple[str, ...] = ()
    guide_layer: str | None = None
    strip_line_breaks: bool = False
    deadline_hours: int = _ACK.deadline_hours
    alarm_hours: int = _ACK.alarm_hours
    backorders: str = _ACK.backorders
    price_mismatch: str = _ACK.price_mismatch
    reject_unknown_items_at_hours: int | None = _ACK.reject_unknown_items_at_hours
    expect_997_within_hours: int | None = _ACK.expect_997_within_hours
    hot_order_types: tuple[str, ...] = _HOT.order_types
    hot_window_days: int | None = _HOT.ship_window_days
    hot_list_file: Path | None = None
    asn_version: str = _SHIP.version
    ship_from: dict[str, str] = field(default_factory=lambda: _SHIP.ship_from.model_dump(exclude_none=True))

    @classmethod
    def load(cls, mappings_dir: Path) -> PartnerSettings:
        """Read ``mappings_dir/partner.yaml`` (defaults when absent); raise YamlError listing every problem."""
        path = mappings_dir / PARTNER_FILE
        tree = load_yaml(path) if path.exists() else {"partner": mappings_dir.name}  # absent: defaults
        try:
            cfg = PartnerFile.model_validate(tree)
        except ValidationError as exc:
            findings = validation_findings(exc, tree)
            if not path.exists():
                findings = [ConfigFinding(f.code, f"{f.message} (the folder name is the partner when there is no "
                                          f"{PARTNER_FILE})", None, f.hint, str(path)) for f in findings]
            raise YamlError(findings) from exc
        hot_list = mappings_dir / cfg.hot_po.list_file if cfg.hot_po.list_file else None
        if hot_list is not None and not hot_list.is_file():
            raise YamlError([ConfigFinding("CFG_INVALID", f"hot_po.list_file: {hot_list} does not exist", None,
                                           "create it (one PO number per line) or remove the setting", str(path))])
        return cls(
            partner=cfg.partner, mappings_dir=mappings_dir, test_interchanges=cfg.test_interchanges,
            guide_layer=_layer(cfg.guide_layer, cfg.partner, path), strip_line_breaks=cfg.strip_line_breaks,
            partner_ids=tuple(i.upper() for i in cfg.interchange.partner_ids),
            our_ids=tuple(i.upper() for i in cfg.interchange.our_ids),
            deadline_hours=cfg.acknowledgement.deadline_hours, alarm_hours=cfg.acknowledgement.alarm_hours,
            backorders=cfg.acknowledgement.backorders, price_mismatch=cfg.acknowledgement.price_mismatch,
            reject_unknown_items_at_hours=cfg.acknowledgement.reject_unknown_items_at_hours,
            expect_997_within_hours=cfg.acknowledgement.expect_997_within_hours,
            hot_order_types=cfg.hot_po.order_types, hot_window_days=cfg.hot_po.ship_window_days,
            hot_list_file=hot_list, asn_version=cfg.ship_notice.version,
            ship_from=cfg.ship_notice.ship_from.model_dump(exclude_none=True))

    @property
    def layer(self) -> str | None:
        """The guide layer in effect: the configured one, else the one named like the partner if shipped."""
        if self.guide_layer is not None:
            return None if self.guide_layer == "none" else self.guide_layer
        return self.partner if self.partner in shipped_layers() else None

    @classmethod
    def findings(cls, path: Path) -> list[ConfigFinding]:
        """Every problem of one ``partner.yaml`` (empty when it is valid), for ``edi mapping lint``."""
        try:
            cls.load(path.parent)
        except YamlError as exc:
            return list(exc.findings)
        return []

    def hot_list(self) -> frozenset[str]:
        """The explicit hot-PO list, read now (support staff may edit it while the daemon runs)."""
        if self.hot_list_file is None:
            return frozenset()
        try:
            text = self.hot_list_file.read_text(encoding="utf-8")
        except OSError:
            return frozenset()
        return frozenset(s for s in (ln.split("#", 1)[0].strip() for ln in text.splitlines()) if s)

    def hot_reason(self, po_number: str, order_type: str, order_date: date, ship_window_end: date | None,
                   listed: frozenset[str]) -> str | None:
        """Why a PO is hot (``None`` when it is not): on the list (``hot_list()``), its order type, a short window."""
        if po_number in listed:
            return "on the hot-PO list"
        if order_type in self.hot_order_types:
            return f"order type {order_type}"
        if self.hot_window_days is not None and ship_window_end is not None:
            days = (ship_window_end - order_date).days
            if days <= self.hot_window_days:
                return f"ship window of {days} day(s)"
        return None
