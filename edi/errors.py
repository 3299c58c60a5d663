"""The exception tree and the closed set of finding codes.

Every failure the engine reports has a stable UPPER_SNAKE code, a dotted name, a one-line
summary and a hint that says what to do next. Codes are never reused; a renamed code keeps its
old name in ``ALIASES``.

::

    EdiError                      base of everything we raise on purpose
    ├── UsageError                bad command-line or API usage (CLI exit 2)
    ├── InputError                a file cannot be read at all (I/O; CLI exit 2)
    ├── GuideError                an implementation guide (XML map) is broken: FatalError
    ├── RetriableError            transient: retry later (transport down, database busy)
    ├── DocumentError             this document cannot proceed: held with its finding
    │   └── X12RejectedError      raised by strict helpers when a file is rejected
    └── FatalError                configuration or an invariant is broken: stop that connector

Validation itself never raises for bad input: it returns findings (see ``edi.x12.results``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """Documentation of one finding code."""

    code: str
    dotted: str
    summary: str
    hint: str


def _c(code: str, dotted: str, summary: str, hint: str) -> CodeInfo:
    return CodeInfo(code, dotted, summary, hint)


_RESEND = "ask the sender to correct and resend the interchange"
_DELIMITER_RULE = ("any character may be a delimiter (control characters too) unless it is a letter or digit, "
                   "equals another delimiter or occurs in the data; ")

CODES: Final[dict[str, CodeInfo]] = {
    c.code: c
    for c in (
        # file level
        _c("EMPTY_FILE", "file.empty", "the file is empty or holds only whitespace",
           "nothing to process; check the sender's upload (a zero-byte file is often a failed transfer)"),
        _c("NOT_X12", "file.not_x12", "the file does not start with an X12 ISA segment",
           "route EDIFACT (UNA/UNB), XML or CSV elsewhere; an X12 file must start with 'ISA'"),
        _c("BOM_STRIPPED", "file.bom_stripped", "a UTF-8 byte-order mark before ISA was removed",
           "harmless; ask the sender to stop writing a BOM"),
        _c("LEADING_WHITESPACE", "file.leading_whitespace", "whitespace before ISA",
           "set leading_whitespace to 'strip' to accept such files, or ask the sender to fix them"),
        _c("TRAILING_DATA", "file.trailing_data", "data after the last IEA",
           "the bytes after IEA are not an interchange; quarantined for a person to inspect"),
        _c("FILE_TOO_LARGE", "file.too_large", "the file exceeds the configured size bound",
           "if the file is legitimate, raise the bound: `--max-file-size BYTES` on `edi validate`/`edi ack`, "
           "or the connector setting max_file_bytes"),
        _c("PREMATURE_EOF", "file.premature_eof", "the file ends inside an interchange (IEA missing)",
           "the transfer was probably cut; ask for a resend"),
        _c("LINE_BREAKS_STRIPPED", "file.line_breaks_stripped",
           "CR/LF inside segments were removed before validation (strip_line_breaks)",
           "the sender hard-wraps lines (often at 80 columns); harmless while strip_line_breaks is on"),
        _c("INVALID_ENCODING", "file.invalid_encoding", "bytes outside the X12 character set",
           "X12 allows ASCII only; ask the sender to transliterate non-ASCII characters"),
        # interchange level (TA1)
        _c("ISA_LENGTH", "isa.length", "the ISA segment is not 106 characters",
           "every ISA element is fixed width (ISA06/ISA08 padded to 15); " + _RESEND),
        _c("ISA_ELEMENT_SEPARATOR", "isa.element_separator",
           "the element separator is invalid or not used consistently in ISA", _DELIMITER_RULE + _RESEND),
        _c("ISA_SEGMENT_TERMINATOR", "isa.segment_terminator", "the segment terminator is invalid",
           _DELIMITER_RULE + _RESEND),
        _c("ISA_COMPONENT_SEPARATOR", "isa.component_separator", "ISA16 component separator is invalid",
           _DELIMITER_RULE + _RESEND),
        _c("ISA_REPETITION_SEPARATOR", "isa.repetition_separator", "ISA11 repetition separator is invalid",
           _RESEND),
        _c("ISA_INVALID_VALUE", "isa.invalid_value", "an ISA element has an invalid value", _RESEND),
        _c("ISA_VERSION_UNSUPPORTED", "isa.version_unsupported", "ISA12 control version is not supported",
           "this connector accepts the control versions listed in its settings"),
        _c("ISA_DATE", "isa.date", "ISA09 is not a valid YYMMDD date", _RESEND),
        _c("ISA_TIME", "isa.time", "ISA10 is not a valid HHMM time", _RESEND),
        _c("ISA_CONTROL_NUMBER", "isa.control_number", "ISA13 is not nine digits", _RESEND),
        _c("UNKNOWN_SENDER", "isa.unknown_sender", "ISA05/ISA06 is not a configured partner",
           "add the sender to the partner settings, or route the file elsewhere"),
        _c("UNKNOWN_RECEIVER", "isa.unknown_receiver", "ISA07/ISA08 is not one of our identifiers",
           "check the partner setup: the file is addressed to somebody else"),
        _c("IEA_CONTROL_MISMATCH", "iea.control_mismatch", "IEA02 differs from ISA13", _RESEND),
        _c("IEA_GROUP_COUNT", "iea.group_count", "IEA01 differs from the number of groups", _RESEND),
        _c("IEA_MISSING", "iea.missing", "the interchange has no IEA trailer",
           "the file was probably cut; ask for a resend"),
        _c("INTERCHANGE_STRUCTURE", "interchange.structure", "segments out of envelope order",
           "a transaction set must sit inside GS/GE; " + _RESEND),
        _c("DUPLICATE_INTERCHANGE", "interchange.duplicate_control_number",
           "ISA13 was already used by this sender", "quarantined; compare with the earlier interchange"),
        _c("TEST_ON_PRODUCTION", "interchange.test_indicator", "ISA15 does not match the connection's mode",
           "a test interchange arrived on a production connection (or the reverse): nothing is ordered"),
        # group level (AK9)
        _c("GROUP_NOT_SUPPORTED", "group.not_supported", "functional group not supported (GS01)",
           "this connector accepts only the groups listed in its settings"),
        _c("GROUP_VERSION_UNSUPPORTED", "group.version_unsupported", "GS08 version has no implementation guide",
           "add a guide for the version or ask the partner to send a supported version"),
        _c("GE_MISSING", "group.ge_missing", "the functional group has no GE trailer", _RESEND),
        _c("GE_CONTROL_MISMATCH", "group.control_mismatch", "GE02 differs from GS06", _RESEND),
        _c("GE_SET_COUNT", "group.set_count", "GE01 differs from the number of transaction sets", _RESEND),
        _c("GS_CONTROL_NUMBER", "group.control_number", "GS06 is invalid or repeated in the interchange",
           _RESEND),
        _c("GS_INVALID_VALUE", "group.invalid_value", "a GS element is invalid", _RESEND),
        # transaction set level (AK5)
        _c("SET_NOT_SUPPORTED", "set.not_supported",
           "ST01 does not belong in this group or has no guide in its version",
           "ST01 must match GS01 (850 in PO, 855 in PR, 856 in SH, 810 in IN, 846 in IB, 860 in PC, 997 in FA) "
           "and GS08 must be a version with a guide; the finding says which applies"),
        _c("SE_MISSING", "set.se_missing", "the transaction set has no SE trailer", _RESEND),
        _c("SE_CONTROL_MISMATCH", "set.control_mismatch", "SE02 differs from ST02", _RESEND),
        _c("SE_SEGMENT_COUNT", "set.segment_count", "SE01 differs from the number of segments", _RESEND),
        _c("ST_INVALID_ID", "set.invalid_id", "ST01 is missing or invalid", _RESEND),
        _c("ST_CONTROL_NUMBER", "set.control_number", "ST02 is missing or invalid", _RESEND),
        _c("ST_DUPLICATE_CONTROL", "set.duplicate_control_number", "ST02 repeats within the group", _RESEND),
        _c("EMPTY_SEGMENT", "set.empty_segment", "an empty segment (two terminators in a row)",
           "the set is rejected whole; " + _RESEND),
        _c("SET_TOO_LARGE", "set.too_large", "the transaction set exceeds the segment bound",
           "raise max_segments_per_set if legitimate; otherwise quarantine"),
        _c("GROUP_TOO_LARGE", "group.too_large", "the group exceeds the transaction-set bound",
           "raise max_sets_per_group if legitimate"),
        # segment level (AK3)
        _c("SEGMENT_UNRECOGNIZED", "segment.unrecognized", "unrecognized segment ID", _RESEND),
        _c("SEGMENT_UNEXPECTED", "segment.unexpected", "segment not expected here", _RESEND),
        _c("SEGMENT_MISSING", "segment.missing", "mandatory segment missing", _RESEND),
        _c("LOOP_OVER_MAX", "segment.loop_over_max", "loop occurs more often than allowed", _RESEND),
        _c("SEGMENT_OVER_MAX", "segment.over_max_use", "segment exceeds its maximum use", _RESEND),
        _c("SEGMENT_NOT_IN_SET", "segment.not_in_set", "segment not defined in this transaction set", _RESEND),
        _c("SEGMENT_OUT_OF_ORDER", "segment.out_of_order", "segment out of sequence", _RESEND),
        _c("SEGMENT_TOO_LONG", "segment.too_long", "segment longer than the configured bound",
           "the segment was skipped to its terminator; " + _RESEND),
        # element level (AK4)
        _c("ELEMENT_MISSING", "element.missing", "mandatory data element missing", _RESEND),
        _c("ELEMENT_CONDITIONAL_MISSING", "element.conditional_missing", "conditionally required element missing",
           _RESEND),
        _c("ELEMENT_TOO_MANY", "element.too_many", "too many data elements", _RESEND),
        _c("ELEMENT_TOO_SHORT", "element.too_short", "data element too short", _RESEND),
        _c("ELEMENT_TOO_LONG", "element.too_long", "data element too long", _RESEND),
        _c("ELEMENT_INVALID_CHARACTER", "element.invalid_character", "invalid character in data element",
           _RESEND),
        _c("ELEMENT_INVALID_CODE", "element.invalid_code", "invalid code value", _RESEND),
        _c("ELEMENT_INVALID_DATE", "element.invalid_date", "invalid date", _RESEND),
        _c("ELEMENT_INVALID_TIME", "element.invalid_time", "invalid time", _RESEND),
        _c("ELEMENT_EXCLUSION", "element.exclusion", "exclusion condition violated", _RESEND),
        # mapping exceptions (raised by `on_missing` and `checks` in mapping files, held for a person)
        _c("SKU_MISMATCH", "mapping.sku_mismatch", "no SKU in the cross-reference for the line's product ids",
           "add the product id to the partner's sku-xref.csv, then `edi po replay` the PO"),
        _c("UNKNOWN_SHIP_TO", "mapping.unknown_ship_to", "the ship-to location is not in the fulfillment centres",
           "add the location to the partner's fulfillment-centers.csv, then `edi po replay` the PO"),
        _c("VENDOR_CODE_MISSING", "mapping.vendor_code_missing", "the PO carries no vendor code (REF*CR)",
           "check the partner setup with Amazon, then `edi po replay` the PO"),
        _c("UNSUPPORTED_UNIT", "mapping.unsupported_unit", "a line's unit of measure is not one the mapping knows",
           "check the item setup; add the unit to the mapping's map if it is legitimate"),
        _c("LINE_COUNT_MISMATCH", "mapping.line_count_mismatch", "CTT01 differs from the number of lines",
           "ask the partner to resend the PO"),
        _c("HASH_TOTAL_MISMATCH", "mapping.hash_total_mismatch", "CTT02 differs from the sum of the quantities",
           "ask the partner to resend the PO"),
        _c("BAD_DELIVERY_WINDOW", "mapping.bad_delivery_window", "the ship window ends before it starts",
           "confirm the window in Vendor Central"),
        # AS2 transport
        _c("CERT_EXPIRING", "as2.cert_expiring", "an AS2 certificate (ours or the partner's) expires within 30 days",
           "get the renewed certificate, exchange it with the partner and switch cert_file/partner_cert_file "
           "before the date; an expired certificate stops every AS2 exchange"),
        _c("AS2_ENDPOINT", "as2.endpoint", "the AS2 endpoint cannot start (address in use, no usable connector)",
           "free the port or change as2_listen in edi.yaml; `edi connectors test NAME` shows what is wrong with an "
           "AS2 connector"),
        _c("AS2_DELIVERY_FAILED", "as2.delivery_failed", "an AS2 message was not confirmed by a valid MDN",
           "retried with the same Message-ID and bytes; if it persists check the partner URL, network "
           "and certificates"),
        _c("AS2_MDN_PENDING", "as2.mdn_pending", "an AS2 message was posted but its asynchronous MDN has not arrived",
           "retried; check that the partner can reach our mdn_url"),
        _c("AS2_MDN_INVALID", "as2.mdn_invalid", "the partner's MDN cannot be read or its signature does not verify",
           "not counted as delivered; compare the partner certificate (partner_cert_file) with the partner"),
        _c("AS2_MDN_UNSIGNED", "as2.mdn_unsigned", "the partner sent an unsigned MDN where a signed one was asked for",
           "not counted as delivered; ask the partner to sign MDNs (or set mdn_signed false if agreed)"),
        _c("AS2_MIC_MISMATCH", "as2.mic_mismatch", "the MIC in the partner's MDN differs from the one we computed",
           "not counted as delivered: the partner did not receive what we signed; retried, then investigate"),
        _c("AS2_MDN_WARNING", "as2.mdn_warning", "the partner's MDN says processed/warning",
           "not counted as delivered; read the warning with the partner, then resend"),
        _c("AS2_REJECTED", "as2.rejected", "the partner answered with a negative MDN",
           "read the disposition (e.g. authentication-failed, decryption-failed), fix it with the partner, resend"),
        # outbound
        _c("OUTBOUND_FORBIDDEN_CHAR", "writer.forbidden_char",
           "an outbound value contains a delimiter or control character",
           "X12 004010 has no escape: fix the value at its source (IMS, mapping)"),
        _c("OUTBOUND_INVALID", "writer.invalid", "an outbound document fails its own guide",
           "nothing was sent; fix the mapping or the source data"),
    )
}

ALIASES: Final[dict[str, str]] = {}


def explain(code: str) -> CodeInfo:
    """Return the documentation of ``code`` (aliases resolved).

    Raises:
        KeyError: the code is unknown.
    """
    return CODES[ALIASES.get(code, code)]


class EdiError(Exception):
    """Base class of every error this package raises on purpose."""

    code: str = "EDI_ERROR"

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}; hint: {self.hint}" if self.hint else base


class UsageError(EdiError):
    """Bad command-line or API usage."""

    code = "USAGE"


class InputError(EdiError):
    """A file or stream cannot be read at all."""

    code = "INPUT"


class FatalError(EdiError):
    """Configuration or an invariant is broken: the connector stops and alerts."""

    code = "FATAL"


class GuideError(FatalError):
    """An implementation guide (XML map) is malformed or inconsistent."""

    code = "GUIDE_INVALID"


class RetriableError(EdiError):
    """A transient failure: the same work may succeed later."""

    code = "RETRY"


class DocumentError(EdiError):
    """This document cannot proceed; it is held with its finding."""

    code = "DOCUMENT"


class OutboundValueError(DocumentError):
    """An outbound element value cannot be written in X12 (delimiter or control character)."""

    code = "OUTBOUND_FORBIDDEN_CHAR"


class X12RejectedError(DocumentError):
    """A strict helper found the input rejected; ``findings`` holds why."""

    code = "X12_REJECTED"

    def __init__(self, message: str, findings: tuple[object, ...]) -> None:
        super().__init__(message)
        self.findings = findings
