"""atheris fuzz target: reader + envelope + guide validation + 997/TA1 rendering.

Any exception other than our typed errors is a crash. Seeds are the sample X12 files.

    pip install -e '.[fuzz]'
    python fuzz/fuzz_x12.py -atheris_runs=200000 fuzz/corpus-work samples/inbound samples/malformed
"""

from __future__ import annotations

import io
import sys

import atheris

with atheris.instrument_imports():
    from edi.errors import CODES, EdiError
    from edi.x12 import AckBuilder, CounterNumbers, Limits, X12Validator

# both reading policies: as received, and with line breaks removed (hard-wrapped files)
VALIDATORS = (X12Validator(limits=Limits(max_file_bytes=1 << 20)),
              X12Validator(limits=Limits(max_file_bytes=1 << 20, strip_line_breaks=True)))


class _Null(io.BytesIO):
    def __exit__(self, *exc: object) -> None:
        return None


def test_one_input(data: bytes) -> None:
    """Validate and acknowledge arbitrary bytes; only typed results are allowed."""
    for validator in VALIDATORS:
        builder = AckBuilder(lambda name: _Null(), CounterNumbers())
        try:
            report = validator.validate_bytes(data, "fuzz.edi", builder)
        except EdiError:
            continue
        for finding in report.findings:
            if finding.code not in CODES:
                raise AssertionError(f"unknown finding code {finding.code}")


def main() -> None:
    """Run the fuzzer with atheris' command-line options."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
