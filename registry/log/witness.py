"""A witness: checks a registry's log from outside, with none of the registry's settings.

It pins the log's verifier key, keeps the last checkpoint it accepted (and the tree's
right edge) in a state file, and on each run: verifies the new checkpoint's signature,
checks it is consistent with the one it saw before, re-derives the root from the entries
it has not seen (or checks a sample by inclusion proofs), and with a regulator's key
spot-checks that sampled entries are the hashes of real events whose chains recompute
(hashlib + rfc8785 only) and whose batch heads are in the log. It returns one line per
problem; the state advances only when there is none.
"""

from __future__ import annotations

import hashlib
import json
import random
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785

from registry.log import merkle, note

TIMEOUT = 30
PAGE = 1000


class WitnessError(Exception):
    """The registry could not be asked (network, HTTP error, malformed answer)."""


@dataclass
class Remote:
    base_url: str
    api_key: str | None = None

    def get(self, path: str, params: dict[str, Any] | None = None, *, auth: bool = False) -> bytes:
        url = self.base_url.rstrip("/") + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json, text/plain"}
        if auth and self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=TIMEOUT
            ) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise WitnessError(f"GET {path} answered {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise WitnessError(f"GET {path} failed: {exc}") from None

    def json(self, path: str, params: dict[str, Any] | None = None, *, auth: bool = False) -> Any:
        try:
            return json.loads(self.get(path, params, auth=auth))
        except json.JSONDecodeError:
            raise WitnessError(f"GET {path} did not answer JSON") from None

    def pages(self, path: str, *, auth: bool = False) -> list[Any]:
        """Every item of a keyset-paginated list, following `next_cursor`."""
        items: list[Any] = []
        params: dict[str, Any] = {}
        while True:
            page = self.json(path, params, auth=auth)
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise WitnessError(f"GET {path} did not answer a page of items")
            items += page["items"]
            if not page.get("next_cursor"):
                return items
            params = {"cursor": page["next_cursor"]}


@dataclass
class WitnessState:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    checkpoint: str = ""
    edge: list[bytes] | None = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None) -> WitnessState:
        if path is None or not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        edge = raw.get("edge")
        return cls(
            size=int(raw["size"]),
            root=bytes.fromhex(raw["root"]),
            checkpoint=str(raw.get("checkpoint", "")),
            edge=None if edge is None else [bytes.fromhex(h) for h in edge],
        )

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                {
                    "size": self.size,
                    "root": self.root.hex(),
                    "checkpoint": self.checkpoint,
                    "edge": None if self.edge is None else [h.hex() for h in self.edge],
                },
                indent=1,
            )
        )


def _entries(remote: Remote, start: int, end: int, *, auth: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while start < end:
        page = remote.json("/v1/log/entries", {"start": start, "end": end}, auth=auth)
        got = page["entries"]
        if not got:
            raise WitnessError(f"the registry returned no entries from {start}")
        out.extend(got)
        start += len(got)
    return out


def _hx(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _check_events(remote: Remote, entry: dict[str, Any], cp: note.Checkpoint) -> list[str]:
    """The entry is the hash of a real event whose chain recomputes, and the batch's head
    is in the log under the checkpoint we verified."""
    index, batch_id, seq = entry["leaf_index"], entry.get("batch_id"), entry.get("seq")
    if batch_id is None:
        return [f"leaf {index}: the registry does not name its event (is the key a regulator's?)"]
    events = remote.pages(f"/v1/batches/{batch_id}/events", auth=True)
    problems: list[str] = []
    prev = "0" * 64
    for event in events:
        digest = hashlib.sha256(bytes.fromhex(prev) + rfc8785.dumps(event["body"])).hexdigest()
        if event["prev_hash"] != prev or digest != event["hash"]:
            problems.append(f"batch {batch_id} seq {event['seq']}: chain does not recompute")
            break
        prev = event["hash"]
    shown = {e["seq"]: e for e in events}
    if seq not in shown:
        problems.append(f"leaf {index}: batch {batch_id} has no event seq {seq}")
    elif shown[seq]["hash"] != entry["data"]:
        problems.append(f"leaf {index}: is not the hash of batch {batch_id} seq {seq}")
    audit = remote.json(f"/v1/batches/{batch_id}/audit", auth=True)
    head = events[-1] if events else None
    proof = audit.get("log") or {}
    if head is None or proof.get("proof") is None:
        return problems
    if proof["tree_size"] != cp.size or proof["leaf_index"] != head["leaf_index"]:
        return problems  # answered against a newer checkpoint: checked on the next run
    try:
        merkle.verify_inclusion(
            proof["leaf_index"],
            cp.size,
            merkle.leaf_hash(bytes.fromhex(head["hash"])),
            _hx(proof["proof"]),
            cp.root,
        )
    except merkle.ProofError as exc:
        problems.append(f"batch {batch_id}: head seq {head['seq']} is not in the log: {exc}")
    return problems


def run_witness(
    base_url: str,
    vkey: str,
    *,
    state_file: Path | None = None,
    api_key: str | None = None,
    sample: int | None = None,
    rng: random.Random | None = None,
) -> tuple[list[str], list[str]]:
    """Returns (problems, notes); the state file advances only when there is no problem."""
    rng = rng or random.Random()
    remote = Remote(base_url, api_key)
    try:
        verifier = note.parse_vkey(vkey)
    except note.NoteError as exc:
        return [f"log key: {exc}"], []
    state = WitnessState.load(state_file)
    try:
        cp = note.open_checkpoint(remote.get("/v1/log/checkpoint").decode(), verifier)
    except note.NoteError as exc:
        return [f"checkpoint: {exc}"], []
    except (WitnessError, UnicodeDecodeError) as exc:
        return [f"checkpoint: {exc}"], []
    problems: list[str] = []
    notes = [f"checkpoint {cp.origin} size {cp.size} root {cp.root.hex()}"]
    try:
        problems += _consistency(remote, state, cp)
        if problems:
            return problems, notes
        new_state, sampled, more = _rederive(remote, state, cp, sample, rng, named=bool(api_key))
        problems += more
        if api_key:
            for entry in sampled:
                problems += _check_events(remote, entry, cp)
            notes.append(f"spot-checked {len(sampled)} entries against their events")
    except WitnessError as exc:
        problems.append(str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"malformed answer from the registry: {exc!r}")
    if not problems and state_file is not None:
        new_state.save(state_file)
    return problems, notes


def _consistency(remote: Remote, state: WitnessState, cp: note.Checkpoint) -> list[str]:
    if state.size == 0:
        return []
    if cp.size < state.size:
        return [f"checkpoint size {cp.size} is smaller than the {state.size} seen before"]
    if cp.size == state.size:
        if cp.root != state.root:
            return [
                f"checkpoint root {cp.root.hex()} at size {cp.size} differs from the root "
                f"{state.root.hex()} seen before at that size: history was rewritten"
            ]
        return []
    proof = remote.json("/v1/log/proof/consistency", {"first": state.size, "second": cp.size})
    try:
        merkle.verify_consistency(state.size, cp.size, state.root, cp.root, _hx(proof["proof"]))
    except merkle.ProofError as exc:
        return [
            f"checkpoint {cp.size} is not consistent with checkpoint {state.size} seen before: "
            f"history was rewritten ({exc})"
        ]
    return []


def _rederive(
    remote: Remote,
    state: WitnessState,
    cp: note.Checkpoint,
    sample: int | None,
    rng: random.Random,
    *,
    named: bool,
) -> tuple[WitnessState, list[dict[str, Any]], list[str]]:
    """Re-derive the root from the unseen entries (or check a sample by inclusion)."""
    start = state.size if state.edge is not None else 0
    edge = (
        merkle.CompactRange(start, state.edge or [])
        if state.edge is not None
        else merkle.CompactRange()
    )
    problems: list[str] = []
    if sample is None:
        entries = _entries(remote, start, cp.size, auth=named)
        for entry in entries:
            edge.append_hash(merkle.leaf_hash(bytes.fromhex(entry["data"])))
        if edge.root() != cp.root:
            problems.append(
                f"entries {start}..{cp.size} re-derive root {edge.root().hex()}, the checkpoint "
                f"says {cp.root.hex()}"
            )
        picked = rng.sample(entries, min(3, len(entries))) if named else []
        return WitnessState(cp.size, cp.root, cp.text(), edge.edge), picked, problems
    unseen = range(state.size, cp.size)
    picked = []
    for index in sorted(rng.sample(unseen, min(sample, len(unseen)))):
        entry = _entries(remote, index, index + 1, auth=named)[0]
        proof = remote.json("/v1/log/proof/inclusion", {"leaf_index": index, "tree_size": cp.size})
        try:
            merkle.verify_inclusion(
                index,
                cp.size,
                merkle.leaf_hash(bytes.fromhex(entry["data"])),
                _hx(proof["proof"]),
                cp.root,
            )
        except merkle.ProofError as exc:
            problems.append(f"leaf {index} is not in checkpoint {cp.size}: {exc}")
        picked.append(entry)
    return WitnessState(cp.size, cp.root, cp.text(), None), picked, problems
