"""A market of phones scanning labels, driven through the real verification path
(`Verifier.scan`: the lot-facts cache on a real database, the device counter, the pure
verdict), with devices identified as the endpoint identifies them (registry/scans/devices.py)
and located only by GeoIP when a database is given: the phones send no location.

- Genuine units: a household of 1-3 phones in one city. A phone scans once, often reloads,
  sometimes switches the page's language, sometimes reopens the tab hours later, at home on
  its broadband network or out on its carrier's network (shared by many phones, CGNAT).
  Phone models repeat (many phones share a user agent); 5% refuse cookies.
- Copies: a real label copied onto fake packages, sold in one city's market or across
  several cities over a month; each fake package is scanned by its own buyer's phone. The
  original package's household scans its code too (those answers are reported apart).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from registry.scans.devices import identify
from registry.scans.geo import GeoIP, locate
from registry.verify.schemas import Verdict
from registry.verify.service import Verifier
from tests.scans.geo_db import City

CITIES = [
    City("Kaili", "CN", 26.58, 107.98, 20),
    City("Guiyang", "CN", 26.65, 106.63, 20),
    City("Shanghai", "CN", 31.23, 121.47, 10),
    City("Beijing", "CN", 39.90, 116.41, 10),
    City("Guangzhou", "CN", 23.13, 113.26, 10),
    City("Chengdu", "CN", 30.66, 104.07, 10),
    City("Wuhan", "CN", 30.59, 114.31, 10),
    City("Hangzhou", "CN", 30.27, 120.16, 10),
]
# Carrier networks are geolocated at a regional hub, often far from the phone.
HUBS = [
    City("Guiyang", "CN", 26.65, 106.63, 200),
    City("Guiyang", "CN", 26.65, 106.63, 200),
    City("Nanjing", "CN", 32.06, 118.80, 200),
    City("Tianjin", "CN", 39.13, 117.20, 200),
    City("Shenzhen", "CN", 22.54, 114.06, 200),
    City("Chengdu", "CN", 30.66, 104.07, 200),
    City("Wuhan", "CN", 30.59, 114.31, 200),
    City("Shanghai", "CN", 31.23, 121.47, 200),
]
MODELS = [f"Mozilla/5.0 (Linux; Android 14; Model {n}) Mobile" for n in range(12)] + [
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{n} like Mac OS X) Mobile" for n in range(6)
]
MODEL_WEIGHTS = [6, 5, 4, 3, 3, 2, 2, 2, 1, 1, 1, 1, 8, 6, 4, 3, 2, 1]
MOBILE_NETS_PER_CITY = 4


def home_network(city: int, n: int) -> str:
    """Broadband: one /24 per household (10.<city>.<n>.0/24, n < 200)."""
    return f"10.{city}.{n % 200}.0/24"


def mobile_network(city: int, n: int) -> str:
    """The carrier's CGNAT ranges in a city: a few /24s shared by every phone out there."""
    return f"10.{city}.{200 + n % MOBILE_NETS_PER_CITY}.0/24"


def geoip_networks() -> dict[str, City]:
    networks = {}
    for index, city in enumerate(CITIES):
        networks[f"10.{index}.0.0/17"] = city  # 0-127
        networks[f"10.{index}.128.0/18"] = city  # 128-191
        networks[f"10.{index}.192.0/21"] = city  # 192-199
        networks[f"10.{index}.200.0/22"] = HUBS[index]  # 200-203: carrier
    return networks


@dataclass
class Phone:
    ua: str
    city: int
    home: str
    accepts_cookies: bool
    cookie: str | None = None


@dataclass(order=True)
class Scan:
    at: datetime
    order: int
    phone: Phone = field(compare=False)
    url: str = field(compare=False)
    mobile: bool = field(compare=False)
    lang: bool = field(compare=False)
    unit: int = field(compare=False)
    role: str = field(compare=False)  # "genuine", "copy" or "original"


@dataclass
class Outcome:
    genuine_units: int = 0
    false_alarms: int = 0
    copies: int = 0
    flagged_by_sixth: int = 0
    copy_scans: int = 0
    copy_scans_genuine: int = 0
    unflagged_after_flag: int = 0  # a non-first phone told "genuine" after the code was caught
    original_scans: int = 0
    original_scans_not_genuine: int = 0
    alarmed: list[int] = field(default_factory=list)


class Market:
    def __init__(self, urls: list[str], *, copies: int, seed: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.scans: list[Scan] = []
        self.copied = set(range(copies))
        self._order = 0
        for unit, url in enumerate(urls):
            self._household(unit, url, role="original" if unit in self.copied else "genuine")
            if unit in self.copied:
                self._fakes(unit, url)
        self.scans.sort()

    def _phone(self, city: int, home: str) -> Phone:
        ua = self.rng.choices(MODELS, MODEL_WEIGHTS)[0]
        return Phone(ua, city, home, accepts_cookies=self.rng.random() > 0.05)

    def _add(
        self,
        at: datetime,
        phone: Phone,
        url: str,
        unit: int,
        role: str,
        mobile: bool,
        lang: bool = False,
    ) -> None:
        self._order += 1
        self.scans.append(Scan(at, self._order, phone, url, mobile, lang, unit, role))

    def _visit(
        self,
        at: datetime,
        phone: Phone,
        url: str,
        unit: int,
        role: str,
        *,
        p_mobile: float,
        p_reload: float,
        p_lang: float,
        p_reopen: float,
    ) -> None:
        """One phone's scan, with its reloads, language switch and a later reopening."""
        rng = self.rng
        mobile = rng.random() < p_mobile
        self._add(at, phone, url, unit, role, mobile)
        if rng.random() < p_reload:
            self._add(at + timedelta(seconds=20), phone, url, unit, role, mobile)
        if rng.random() < p_lang:
            self._add(at + timedelta(seconds=45), phone, url, unit, role, mobile, lang=True)
        if rng.random() < p_reopen:
            later = at + timedelta(hours=rng.uniform(1, 48))
            self._add(later, phone, url, unit, role, rng.random() < 0.5)

    def _household(self, unit: int, url: str, *, role: str) -> None:
        rng = self.rng
        city = rng.randrange(len(CITIES))
        home = home_network(city, rng.randrange(200))
        size = rng.choices([1, 2, 3], [0.5, 0.3, 0.2])[0]
        bought = self.start + timedelta(days=rng.uniform(0, 10))
        for member in range(size):
            if member and rng.random() > 0.6:
                continue  # not everyone in the household checks
            phone = self._phone(city, home)
            at = bought + timedelta(minutes=rng.uniform(0, 600))
            self._visit(
                at, phone, url, unit, role, p_mobile=0.3, p_reload=0.5, p_lang=0.3, p_reopen=0.3
            )

    def _fakes(self, unit: int, url: str) -> None:
        rng = self.rng
        cities = [rng.randrange(len(CITIES))]
        if rng.random() < 0.5:  # sold across several cities
            cities = rng.sample(range(len(CITIES)), rng.randint(2, 5))
        for _ in range(rng.randint(10, 100)):
            city = rng.choice(cities)
            phone = self._phone(city, home_network(city, rng.randrange(200)))
            at = self.start + timedelta(days=rng.uniform(0, 30))
            self._visit(
                at, phone, url, unit, "copy", p_mobile=0.6, p_reload=0.4, p_lang=0.2, p_reopen=0.1
            )

    def address(self, scan: Scan) -> str:
        network = (
            mobile_network(scan.phone.city, self.rng.randrange(MOBILE_NETS_PER_CITY))
            if scan.mobile
            else scan.phone.home
        )
        base = network.rsplit(".", 1)[0]
        return f"{base}.{self.rng.randrange(1, 255)}"

    async def run(self, verifier: Verifier, *, geoip: GeoIP | None, secret: str) -> Outcome:
        verdicts: list[tuple[Scan, Verdict, str]] = []
        for scan in self.scans:
            address = self.address(scan)
            phone = scan.phone
            device = identify(
                phone.cookie if phone.accepts_cookies else None, address, phone.ua, secret=secret
            )
            if device.set_cookie and phone.accepts_cookies:
                phone.cookie = device.id
            url = scan.url + ("&lang=en" if scan.lang else "")
            place = locate(None, geoip, address)
            answered = await verifier.scan(url, device=device.id, place=place, now=scan.at)
            verdicts.append((scan, answered.verdict, device.id))
        return self._outcome(verdicts)

    def _outcome(self, verdicts: list[tuple[Scan, Verdict, str]]) -> Outcome:
        out = Outcome()
        by_unit: dict[int, list[tuple[Scan, Verdict, str]]] = defaultdict(list)
        for entry in verdicts:
            by_unit[entry[0].unit].append(entry)
        for unit, seen in by_unit.items():
            if unit not in self.copied:
                out.genuine_units += 1
                if any(v != Verdict.genuine for _, v, _ in seen):
                    out.false_alarms += 1
                    out.alarmed.append(unit)
                continue
            out.copies += 1
            first_device = seen[0][2]
            fakes = [(s, v, d) for s, v, d in seen if s.role == "copy"]
            originals = [v for s, v, _ in seen if s.role == "original"]
            out.original_scans += len(originals)
            out.original_scans_not_genuine += sum(v != Verdict.genuine for v in originals)
            out.copy_scans += len(fakes)
            out.copy_scans_genuine += sum(v == Verdict.genuine for _, v, _ in fakes)
            phones: set[int] = set()
            caught = False
            for scan, verdict, device in fakes:
                caught = caught or verdict != Verdict.genuine
                if id(scan.phone) not in phones:
                    phones.add(id(scan.phone))
                    if len(phones) == 6 and caught:  # the 6th distinct fake buyer's scan
                        out.flagged_by_sixth += 1
                if caught and verdict == Verdict.genuine and device != first_device:
                    out.unflagged_after_flag += 1
        return out
