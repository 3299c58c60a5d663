"""The mapping file schema (pydantic, ``extra="forbid"``): what a YAML mapping may say.

A mapping turns a source document (the canonical JSON view of a transaction set, or a model
dumped to JSON) into a target model, one rule per target field::

    mapping: amazon-850-to-sales-order
    version: "3"
    source: x12/004010/850
    target: sales_order
    lookups:
      sku_xref: { file: sku-xref.csv }
    header:
      vendor_central_po_number: { from: BEG.BEG03 }
      order_type: { from: BEG.BEG02, map: { NE: standard, RO: rush } }
    lines:
      for_each: PO1_loop
      fields:
        sku:
          from: "id_pairs(PO1)"
          lookup: { table: sku_xref, match: { UP: upc, BP: asin }, take: sku }
          on_missing: { exception: SKU_MISMATCH, hint: "add {value} to mappings/amazon/sku-xref.csv" }
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Cast = Literal["string", "integer", "decimal", "date", "boolean"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LookupTable(_Spec):
    """A CSV table (first row = column names), path relative to the mapping file."""

    file: str = Field(description="CSV file, relative to the mapping file")


class Lookup(_Spec):
    """Find a row of a table and take one of its columns.

    With ``key`` the rule's value is looked up in that column. With ``match`` the value must be a
    list of ``{qualifier, value}`` pairs (see ``id_pairs``): each pair whose qualifier is listed is
    looked up in the mapped column, in order, and the first hit wins.
    """

    table: str
    take: str = Field(description="Column whose value becomes the field")
    key: str | None = Field(default=None, description="Column the value is looked up in")
    match: dict[str, str] | None = Field(default=None, description="X12 qualifier -> column")

    @model_validator(mode="after")
    def _one_way(self) -> Lookup:
        if (self.key is None) == (self.match is None):
            raise ValueError("a lookup needs exactly one of 'key' or 'match'")
        return self


class OnMissing(_Spec):
    """What a missing value (or a failed lookup/map) does."""

    exception: str | None = Field(default=None, description="Exception code raised for a person, e.g. SKU_MISMATCH")
    hint: str = Field(default="", description="Suggested fix; {value} is replaced with what was received")


class Rule(_Spec):
    """How one target field is produced."""

    from_: str | None = Field(default=None, alias="from", description="JMESPath (with SEG[QUAL].SEGnn shorthand)")
    value: str | None = Field(default=None, description="A constant")
    as_: Cast = Field(default="string", alias="as", description="Type the value is converted to")
    format: str | None = Field(default=None, description="Date format: CCYYMMDD, YYMMDD or ISO")
    map: dict[str, str] | None = Field(default=None, description="Closed code list: source code -> target value")
    lookup: Lookup | None = None
    default: str | None = None
    optional: bool = False
    min: str | None = None
    max: str | None = None
    pattern: str | None = None
    on_missing: OnMissing | None = None

    @model_validator(mode="after")
    def _source(self) -> Rule:
        if (self.from_ is None) == (self.value is None):
            raise ValueError("a rule needs exactly one of 'from' or 'value'")
        return self


class Lines(_Spec):
    """Rules applied to each item of a repeated source structure."""

    for_each: str = Field(description="JMESPath giving the list of source items (e.g. PO1_loop)")
    key: str = Field(default="line_number", description="Target field that identifies a line in messages")
    fields: dict[str, Rule]
    on_exception: Literal["hold_order", "reject_line"] = Field(
        default="hold_order", description="A line raising an exception holds the whole order, or only drops the line")


class Check(_Spec):
    """A whole-document check from a closed list of named predicates."""

    count_equals: dict[str, str] | None = Field(default=None, description="{target: lines, source: <expr>}")
    not_after: dict[str, str] | None = Field(default=None, description="{earlier: field, later: field}")
    sum_equals: dict[str, str] | None = Field(default=None, description="{target: <line field>, source: <expr>}")
    exception: str = Field(description="Exception code when the check fails")
    hint: str = ""


class MappingSpec(_Spec):
    """A whole mapping file."""

    mapping: str
    version: str
    source: str = Field(description="What the mapping reads, e.g. x12/004010/850")
    target: Literal["sales_order", "purchase_order", "purchase_order_ack", "ship_notice"]
    lookups: dict[str, LookupTable] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict, description="Values available to rules as $name")
    header: dict[str, Rule]
    lines: Lines | None = None
    checks: list[Check] = Field(default_factory=list)
