"""Rebuild registry/web/counties.csv, the names of China's administrative divisions by their
6-digit code, from a table with `adcode` and `name` columns.

The shipped file comes from the MIT-licensed `cpca` package (0.5.5, resources/adcodes.csv,
National Bureau of Statistics codes as of 2020). To refresh it from a newer table, e.g. the
Ministry of Civil Affairs' yearly list saved as CSV with those two columns:

    python3 scripts/county_table.py adcodes.csv > registry/web/counties.csv

Codes may have 6 or 12 digits (12-digit statistical codes end in six zeros at county level).
"""

from __future__ import annotations

import csv
import sys

# Grouping rows that name no place ("municipal districts", "counties", ...).
PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def main(path: str) -> None:
    names: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as source:
        for row in csv.DictReader(source):
            code = row["adcode"].strip()
            if len(code) == 12 and code.endswith("000000"):
                code = code[:6]
            name = row["name"].strip()
            if len(code) != 6 or not code.isdigit() or code.endswith("0000"):
                continue  # provinces carry no county brand
            if name and name not in PLACEHOLDERS:
                names[code] = name  # counties, and the prefectures above them
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("code", "name"))
    out.writerows(sorted(names.items()))


if __name__ == "__main__":
    main(sys.argv[1])
