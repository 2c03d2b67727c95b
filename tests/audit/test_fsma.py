"""The CSV export's line encoder writes exactly what `csv.writer` writes (pure)."""

from __future__ import annotations

import csv
import io
import random

import pytest

from registry.audit.fsma import HEADER, csv_line

NASTY = [
    "",
    " ",
    "plain",
    "navel orange, Bench",
    'say "hi"',
    '"',
    '""',
    ",",
    "a\nb",
    "a\rb",
    "a\r\nb",
    "\n",
    "五常大米, 稻花香",
    "五常稻花香合作社 (230184)",
    'quote" and, comma',
    "tab\there",
    "semi; colon",
    "\ufeffbom",
    "trailing ",
]


def _writer(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


@pytest.mark.parametrize("cell", NASTY)
def test_each_kind_of_cell_is_quoted_as_csv_writer_quotes_it(cell: str) -> None:
    cells = ["Shipping", cell, "600", cell, "box"]
    assert csv_line(cells) == _writer(cells)


def test_random_rows_are_encoded_as_csv_writer_encodes_them() -> None:
    rng = random.Random(16)
    alphabet = 'ab ,"\r\n五;'
    for _ in range(3000):
        cells = [
            "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6)))
            for _ in range(len(HEADER))
        ]
        assert csv_line(cells) == _writer(cells), cells
    assert csv_line(HEADER) == _writer(list(HEADER))
    # The encoded line reads back as the cells.
    assert next(csv.reader(io.StringIO(csv_line(NASTY)), lineterminator="\r\n")) == NASTY


@pytest.mark.parametrize(
    "cells",
    [[], [""], ["", ""], ["a"], ["a,b"], ["a,b", "c"], ["a", "b,c,d"], ['"'], ["a\nb", ","]],
)
def test_short_records_are_encoded_as_csv_writer_encodes_them(cells: list[str]) -> None:
    assert csv_line(cells) == _writer(cells)
