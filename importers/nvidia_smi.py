"""`sortai import nvidia-smi`: what `nvidia-smi` prints about a host's GPUs, as one node of the description.

Read: `-L` (GPUs, MIG devices and their profiles), `-q` (product name, MIG mode, virtualization mode, memory),
the default table (name, memory, MIG mode, MIG devices), `--query-gpu ... --format=csv`, `topo -m` (the GPU and
NIC matrix: NV#, PIX, PXB, PHB, NODE, SYS, CPU/NUMA affinity), `mig -lgi` (GPU instances) and `nvlink -s`.
One file may hold one command's output or many (nvidia_gpu_exporter's capture format: `# $ command` sections).

The product name maps to the catalog accelerator through its `sai:productName`; a name the catalog lacks is
reported (V100, for one, is not in it). MIG slices of one profile become `virtualization: {gpu: mig,
migProfile}`; mixed profiles on one GPU are reported, since a node's virtualization block takes one profile.
From `topo -m`: `peerToPeer` (nvlink when GPU pairs are NV#-connected), `scaleUpDomainSize` (the largest set of
GPUs every pair of which is NVLink-connected), the NICs and which GPUs each is close to.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from sortai.reasoner.problems import InputError, Location, Problem

from . import catalog
from .fragment import Element, Fragment, slug
from .yamldocs import read_text

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LIST_GPU = re.compile(r"^GPU (?P<index>\d+): (?P<name>.+?) \(UUID: (?P<uuid>[^)]+)\)\s*$")
LIST_MIG = re.compile(r"^\s+MIG (?P<profile>\d+g\.\d+gb(?:\+me)?)\s+Device\s+(?P<device>\d+): \(UUID: (?P<uuid>[^)]+)\)")
Q_FIELD = re.compile(r"^(?P<indent>\s*)(?P<key>[^:]+?)\s*:\s*(?P<value>.*?)\s*$")
TABLE_GPU = re.compile(r"^\|\s+(?P<index>\d+)\s+(?P<name>.+?)\s+(On|Off)\s+\|\s+(?P<bus>[0-9A-Fa-f:.]+)\s")
TABLE_MEMORY = re.compile(r"\|\s+(?P<used>\d+)MiB\s*/\s*(?P<total>\d+)MiB\s+\|")
TABLE_MIG_ROW = re.compile(r"^\|\s+(?P<gpu>\d+)\s+(?P<gi>\d+)\s+(?P<ci>\d+)\s+(?P<dev>\d+)\s+\|\s+(?P<used>\d+)MiB\s*/\s*(?P<total>\d+)MiB")
LGI_ROW = re.compile(r"^\|\s+(?P<gpu>\d+)\s+MIG\s+(?P<profile>\d+g\.\d+gb(?:\+me)?)\s+(?P<pid>\d+)\s+(?P<gi>\d+)\s")
TOPO_HEADER = re.compile(r"^\s*GPU0\b.*")
VIRTUALIZATION = {"pass-through": "vm-passthrough", "passthrough": "vm-passthrough", "vgpu": "time-sliced-vgpu",
                  "none": "bare-metal"}


@dataclass
class Gpu:
    index: int
    name: str | None = None
    where: Location | None = None
    uuid: str | None = None
    memory_mib: int | None = None
    mig_mode: str | None = None
    mig_where: Location | None = None
    virtualization: str | None = None
    virtualization_where: Location | None = None
    mig: list[tuple[str, str | None, Location]] = field(default_factory=list)  # (profile, uuid, where)

    def listed_mig(self) -> bool:
        """MIG devices came from `-L` (their UUIDs), not from `mig -lgi`."""
        return any(not str(uuid).startswith("GI") for _, uuid, _ in self.mig)


@dataclass
class Capture:
    file: str
    gpus: dict[int, Gpu] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)
    topology: dict | None = None
    hostname: str | None = None
    found: list[str] = field(default_factory=list)
    extra: list[tuple[str, Location]] = field(default_factory=list)  # header lines not from nvidia-smi

    def gpu(self, index: int) -> Gpu:
        return self.gpus.setdefault(index, Gpu(index))


def parse(text: str, file: str, problems: list[Problem]) -> Capture:
    capture = Capture(file)
    lines = [ANSI.sub("", line.rstrip("\r")) for line in text.split("\n")]
    _metadata(lines, capture)
    _list(lines, capture)
    _query(lines, capture, problems)
    _table(lines, capture, problems)
    _csv(lines, capture, problems)
    _lgi(lines, capture)
    _topology(lines, capture, problems)
    return capture


def _metadata(lines, capture: Capture) -> None:
    for number, line in enumerate(lines[:40], 1):
        match = re.match(r"^(collected_at|masked|os|kernel|arch|load|hostname):\s+(.*)$", line)
        if match:
            capture.header[match.group(1)] = match.group(2).strip()
            if match.group(1) == "hostname":
                capture.hostname = match.group(2).strip()
        stripped = line.strip()
        # A hand-written header such as DLPerf's "Tesla V100-SXM2-16GB x 8".
        match = re.match(r"^(?P<name>(?:NVIDIA |Tesla |Quadro )?[A-Z][\w-]+(?: [\w-]+)*) x (?P<n>\d+)$", stripped)
        if match:
            capture.extra.append((f"gpus:{match.group('name')}:{match.group('n')}", Location(capture.file, number)))
        if re.search(r"InfiniBand|Ethernet|RoCE|EFA", stripped) and "Gb/s" in stripped.replace("Gb/sec", "Gb/s"):
            capture.extra.append((f"nic:{stripped}", Location(capture.file, number)))


def _list(lines, capture: Capture) -> None:
    current = None
    seen = False
    for number, line in enumerate(lines, 1):
        match = LIST_GPU.match(line)
        if match:
            gpu = capture.gpu(int(match.group("index")))
            if gpu.name is None:
                gpu.name, gpu.where, gpu.uuid = match.group("name"), Location(capture.file, number), match.group("uuid")
                current = gpu
                seen = True
            else:
                current = None  # a later listing (nvlink -s repeats the GPU line): keep the first
            continue
        mig = LIST_MIG.match(line)
        if mig and current is not None:
            current.mig.append((mig.group("profile"), mig.group("uuid"), Location(capture.file, number)))
            continue
        if line.strip() and not line.startswith(" "):
            current = None
    if seen:
        capture.found.append("-L")


def _query(lines, capture: Capture, problems) -> None:
    """`nvidia-smi -q`: the first log block only (captures repeat it per phase)."""
    start = next((i for i, l in enumerate(lines) if "==============NVSMI LOG==============" in l), None)
    if start is None:
        return
    capture.found.append("-q")
    index, attached, attached_where, in_mig, in_virt = -1, None, None, False, False
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if line.startswith("####") or "NVSMI LOG" in line:
            break
        if re.match(r"^GPU [0-9A-Fa-f]{4,}:", line):
            index += 1
            continue
        match = Q_FIELD.match(line)
        if not match:
            in_mig = line.strip() == "MIG Mode" or (in_mig and line.startswith("        "))
            in_virt = line.strip() == "GPU Virtualization Mode" or (in_virt and line.startswith("        "))
            continue
        key, value, where = match.group("key").strip(), match.group("value"), Location(capture.file, number + 1)
        indent = len(match.group("indent"))
        if key == "Attached GPUs":
            attached, attached_where = int(value) if value.isdigit() else None, where
        if index < 0:
            continue
        gpu = capture.gpu(index)
        if key == "Product Name" and indent == 4:
            if gpu.name is None:
                gpu.name, gpu.where = value, where
        elif key == "Current" and in_mig and gpu.mig_mode is None:
            gpu.mig_mode, gpu.mig_where = value, where
        elif key == "Virtualization Mode" and in_virt:
            gpu.virtualization, gpu.virtualization_where = value, where
        elif key == "Total" and gpu.memory_mib is None and lines[number - 1].strip().startswith("FB Memory Usage"):
            gpu.memory_mib = int(value.split()[0]) if value.split()[0].isdigit() else None
        elif key == "GPU UUID" and gpu.uuid is None:
            gpu.uuid = value
        if line.strip() in ("MIG Mode",):
            in_mig = True
    if attached is not None and index + 1 < attached:
        problems.append(Problem(f"nvidia-smi -q says {attached} attached GPU(s) but the output describes {index + 1}: "
                                "the capture looks truncated", attached_where, severity="violation", code="truncated",
                                fix="capture the whole output of nvidia-smi -q."))


def _table(lines, capture: Capture, problems) -> None:
    start = next((i for i, l in enumerate(lines) if l.startswith("| NVIDIA-SMI")), None)
    if start is None:
        return
    capture.found.append("table")
    last_gpu, in_mig = None, False
    closed = False
    for number in range(start, len(lines)):
        line = lines[number]
        if line.startswith("####"):
            break
        where = Location(capture.file, number + 1)
        match = TABLE_GPU.match(line)
        if match:
            last_gpu = capture.gpu(int(match.group("index")))
            if last_gpu.name is None:
                last_gpu.name, last_gpu.where = match.group("name").strip(), where
            continue
        memory = TABLE_MEMORY.search(line)
        if memory and last_gpu is not None and not in_mig and last_gpu.memory_mib is None:
            last_gpu.memory_mib = int(memory.group("total"))
        if last_gpu is not None and not in_mig and re.search(r"\|\s+(Enabled|Disabled|N/A)\s+\|\s*$", line) \
                and last_gpu.mig_mode is None:
            last_gpu.mig_mode = re.search(r"(Enabled|Disabled|N/A)\s+\|\s*$", line).group(1)
            last_gpu.mig_where = where
        if "MIG devices:" in line:
            in_mig = True
        if "Processes:" in line:
            closed = True
            break
    if not closed:
        problems.append(Problem("the nvidia-smi table ends before its Processes section: the capture looks "
                                "truncated", Location(capture.file, len(lines)), severity="warning", code="truncated",
                                fix="capture the whole output of nvidia-smi."))


def _csv(lines, capture: Capture, problems) -> None:
    for number, line in enumerate(lines):
        if line.startswith("#") or "," not in line:
            continue
        header = [h.strip() for h in line.split(",")]
        if "name" not in header or not ({"index", "uuid", "memory.total [MiB]", "count"} & set(header)):
            continue
        capture.found.append("--query-gpu")
        for offset, row_line in enumerate(lines[number + 1:], number + 2):
            if not row_line.strip() or row_line.startswith("#"):
                break
            row = next(csv.reader([row_line], skipinitialspace=True))
            where = Location(capture.file, offset)
            if len(row) != len(header):
                problems.append(Problem(f"--query-gpu row has {len(row)} fields, the header {len(header)}: the "
                                        "capture looks truncated", where, severity="warning", code="truncated"))
                continue
            values = dict(zip(header, row))
            index = int(values["index"]) if values.get("index", "").isdigit() else len(capture.gpus)
            gpu = capture.gpu(index)
            if gpu.name is None:
                gpu.name, gpu.where = values["name"], where
            total = values.get("memory.total [MiB]") or values.get("memory.total")
            if total and gpu.memory_mib is None and total.split()[0].isdigit():
                gpu.memory_mib = int(total.split()[0])
            if values.get("hostname") and not capture.hostname and values["hostname"] not in ("[N/A]", ""):
                capture.hostname = values["hostname"]
        return


def _lgi(lines, capture: Capture) -> None:
    """`nvidia-smi mig -lgi`: GPU instances with their profile names (when -L is absent)."""
    for number, line in enumerate(lines, 1):
        match = LGI_ROW.match(line)
        if match:
            gpu = capture.gpu(int(match.group("gpu")))
            if not any(m[1] == f"GI{match.group('gi')}" for m in gpu.mig) and not gpu.listed_mig():
                gpu.mig.append((match.group("profile"), f"GI{match.group('gi')}", Location(capture.file, number)))
            if "mig -lgi" not in capture.found:
                capture.found.append("mig -lgi")


def _topology(lines, capture: Capture, problems) -> None:
    start = next((i for i, l in enumerate(lines) if TOPO_HEADER.match(l) and "Affinity" in l), None)
    if start is None:
        return
    header = [h for h in re.split(r"\t+|\s{2,}", lines[start].strip()) if h]
    columns = [h for h in header if h not in ("CPU Affinity", "NUMA Affinity", "GPU NUMA ID")]
    rows: dict[str, tuple[list[str], Location]] = {}
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if not line.strip() or line.strip().startswith("Legend"):
            break
        cells = [c for c in re.split(r"\t+|\s{2,}|\s(?=\S)", line.strip()) if c]
        rows[cells[0]] = (cells[1:], Location(capture.file, number + 1))
    gpus = [c for c in columns if c.startswith("GPU")]
    nics = [c for c in columns if not c.startswith("GPU")]
    links, affinity = {}, {}
    for name in gpus:
        if name not in rows:
            problems.append(Problem(f"topo -m has no row for {name}: the matrix looks truncated",
                                    Location(capture.file, start + 1), severity="warning", code="truncated"))
            continue
        cells, where = rows[name]
        for column, cell in zip(columns, cells):
            if column != name:
                links[(name, column)] = (cell, where)
        extra = cells[len(columns):]
        if extra:
            affinity[name] = extra[0]
    capture.topology = {"gpus": gpus, "nics": nics, "links": links, "affinity": affinity,
                        "where": Location(capture.file, start + 1)}
    capture.found.append("topo -m")


def _cliques(gpus: list[str], links) -> int:
    """Size of the largest set of GPUs in which every pair is NVLink-connected."""
    import itertools

    nv = {frozenset((a, b)) for (a, b), (cell, _) in links.items() if cell.startswith("NV")}
    best = 1 if gpus else 0
    for size in range(2, len(gpus) + 1):
        if any(all(frozenset(p) in nv for p in itertools.combinations(group, 2))
               for group in itertools.combinations(gpus, size)):
            best = size
        else:
            break
    return best


def import_nvidia_smi(paths: list[str | Path], fragment: Fragment | None = None) -> Fragment:
    fragment = fragment or Fragment()
    for path in paths:
        text = read_text(path)
        capture = parse(text, str(path), fragment.problems)
        if not capture.found and not capture.extra:
            raise InputError([Problem("no nvidia-smi output recognised (-L, -q, the default table, --query-gpu csv, "
                                      "topo -m, mig -lgi)", Location(str(path), 1), code="not-nvidia-smi",
                                      fix="capture e.g. `nvidia-smi -q > host.txt` and `nvidia-smi topo -m >> host.txt`.")])
        fragment.sources.append(str(path))
        node_element(capture, Path(path), fragment)
    return fragment


def node_element(capture: Capture, path: Path, fragment: Fragment) -> Element:
    name = capture.hostname or path.stem
    node = Element(slug(name), origin=Location(capture.file, 1))
    node.meta.update({"inventory": True, "kind": "nvidia-smi", "hostnames": [capture.hostname] if capture.hostname else [],
                      "uuids": [g.uuid for g in capture.gpus.values() if g.uuid],
                      "mig_uuids": [u for g in capture.gpus.values() for _, u, _ in g.mig if u]})
    node.note("", f"from nvidia-smi output ({', '.join(capture.found) or 'header lines'})" +
              (f", collected {capture.header['collected_at']}" if "collected_at" in capture.header else "") +
              (f", load: {capture.header['load']}" if "load" in capture.header else ""))
    gpus = [capture.gpus[i] for i in sorted(capture.gpus)]
    names = {g.name for g in gpus if g.name}
    if not gpus:
        for item, where in capture.extra:
            if item.startswith("gpus:"):
                _, product, count = item.split(":")
                gpus = [Gpu(i, product, where) for i in range(int(count))]
                names = {product}
    if len(names) > 1:
        fragment.problem("the host has GPUs of different models: " + ", ".join(sorted(names)), gpus[0].where,
                         element=node.id, key="accelerator", severity="violation", code="mixed-accelerators",
                         fix="describe one node entry per GPU model by hand.")
    if gpus:
        first = next(g for g in gpus if g.name)
        model = catalog.accelerator_for_product(first.name) if first.name else None
        if model:
            node.set("accelerator", model, first.where, f"accelerator {model}: the catalog's product name '{first.name}'")
        else:
            fragment.problem(f"GPU product '{first.name}' is not a product name the catalog knows", first.where,
                             element=node.id, key="accelerator", severity="violation", code="unknown-product",
                             fix="write accelerator: <catalog name> by hand, or add the name as sai:productName in "
                                 "ontology/sortai-catalog.ttl (with the part's datasheet figures).")
            node.meta["product"] = first.name
        node.set("acceleratorsPerNode", len(gpus), first.where, f"{len(gpus)} GPU(s) listed")
        memory = {g.memory_mib for g in gpus if g.memory_mib}
        if memory:
            node.note("acceleratorsPerNode", f"device memory {', '.join(str(m) for m in sorted(memory))} MiB per GPU "
                                             "as nvidia-smi reports it")
    _virtualization(gpus, node, fragment)
    _topology_facts(capture, node, fragment)
    for item, where in capture.extra:
        if item.startswith("nic:"):
            fragment.problem(f"NIC line '{item[4:]}' names a network the catalog has no link type for; the NIC type "
                             "is not imported", where, element=node.id, key="nic", severity="warning",
                             code="unknown-link-type", fix="write nic: <catalog link type> by hand if the catalog has it.")
    return fragment.add("nodes", node)


def _virtualization(gpus: list[Gpu], node: Element, fragment: Fragment) -> None:
    enabled = [g for g in gpus if (g.mig_mode or "").lower() == "enabled" or g.mig]
    virt = {VIRTUALIZATION.get((g.virtualization or "").lower()) for g in gpus if g.virtualization} - {None}
    virt_where = next((g.virtualization_where for g in gpus if g.virtualization_where), None)
    if enabled:
        profiles = [p for g in enabled for p, _, _ in g.mig]
        where = enabled[0].mig_where or enabled[0].where
        node.set("virtualization.gpu", "mig", where, "MIG mode enabled")
        distinct = sorted(set(profiles))
        node.meta["mig_profiles"] = profiles
        if not profiles:
            fragment.problem("MIG mode is enabled but no MIG devices are listed (nvidia-smi -L or mig -lgi would list "
                             "them)", where, element=node.id, key="virtualization.migProfile", severity="violation",
                             code="missing", fix="add the nvidia-smi -L output, or write migProfile by hand.")
        elif len(distinct) == 1:
            _mig_profile(distinct[0], enabled[0].mig[0][2], node, fragment)
        else:
            counts = ", ".join(f"{p} × {profiles.count(p)}" for p in distinct)
            fragment.problem(f"the GPU is split into MIG instances of mixed profiles ({counts}); a node entry's "
                             "virtualization block takes one migProfile", enabled[0].mig[0][2], element=node.id,
                             key="virtualization.migProfile", severity="violation", code="mixed-mig",
                             fix="split this host by hand into one entry per profile the pools use, or name the "
                                 "profile the pool runs on.")
            node.note("virtualization", f"MIG instances: {counts}")
            for profile in distinct:
                if profile not in catalog.mig_profiles():
                    fragment.problem(f"MIG profile {profile} is not in the catalog", enabled[0].mig[0][2],
                                     element=node.id, key="migProfile", severity="violation", code="unknown-mig-profile")
        if "vm-passthrough" in virt:
            node.note("virtualization", "nvidia-smi -q also says 'Virtualization Mode: Pass-Through': the GPU is "
                                        "passed through into a VM and partitioned with MIG; the block names mig")
    elif virt:
        regime = sorted(virt)[0]
        node.set("virtualization.gpu", regime, virt_where, f"nvidia-smi -q Virtualization Mode → {regime}")


def _mig_profile(profile: str, where: Location, node: Element, fragment: Fragment) -> None:
    if profile not in catalog.mig_profiles():
        fragment.problem(f"MIG profile {profile} is not in the catalog", where, element=node.id,
                         key="virtualization.migProfile", severity="violation", code="unknown-mig-profile",
                         fix="use a catalog profile or extend ontology/sortai-catalog.ttl.")
        return
    accelerator = node.get("accelerator")
    if catalog.mig_profile_supported(profile, accelerator) is False:
        fragment.problem(f"the catalog does not list MIG profile {profile} for {accelerator}", where, element=node.id,
                         key="virtualization.migProfile", severity="warning", code="mig-profile-mismatch")
    node.set("virtualization.migProfile", profile, where, f"all MIG instances are {profile}")


def _topology_facts(capture: Capture, node: Element, fragment: Fragment) -> None:
    topo = capture.topology
    if not topo:
        return
    gpus, links = topo["gpus"], topo["links"]
    pairs = {frozenset(k): v for k, v in links.items() if k[0] in gpus and k[1] in gpus}
    if len(gpus) > 1:
        nv = {p: c for p, (c, _) in pairs.items() if c.startswith("NV")}
        domain = _cliques(gpus, links)
        where = topo["where"]
        if nv:
            node.set("peerToPeer", "nvlink", where, f"{len(nv)} of {len(pairs)} GPU pairs NVLink-connected (topo -m)")
            node.set("scaleUpDomainSize", domain, where,
                     f"the largest set of GPUs every pair of which has NVLink: {domain}")
            others = sorted("-".join(sorted(p)) + f" {c}" for p, (c, _) in pairs.items() if not c.startswith("NV"))
            if others:
                node.note("scaleUpDomainSize", "pairs without NVLink (traffic crosses PCIe/the CPU interconnect): "
                          + ", ".join(others))
        else:
            kinds = sorted({c for c, _ in pairs.values()})
            node.set("peerToPeer", "pcie", where, f"no NVLink between GPUs; pairs are {', '.join(kinds)} (topo -m)")
    nics = topo["nics"]
    if nics:
        node.set("nicsPerNode", len(nics), topo["where"], f"{len(nics)} NIC(s) in topo -m: {', '.join(nics)}")
        for nic in nics:
            near = [g for g in gpus if links.get((g, nic), ("", None))[0] in ("PIX", "PXB")]
            node.note("nicsPerNode", f"{nic}: PIX/PXB to {', '.join(near) or 'no GPU'}; " + ", ".join(
                f"{g} {links.get((g, nic), ('?', None))[0]}" for g in gpus))
    numa = sorted(set(topo["affinity"].values()))
    if len(numa) > 1:
        node.note("acceleratorsPerNode", f"CPU affinity splits the GPUs into {len(numa)} NUMA domains: "
                  + "; ".join(f"{a}: " + ", ".join(g for g, v in topo['affinity'].items() if v == a) for a in numa))
    node.meta["topology"] = {"gpus": gpus, "nics": nics,
                             "links": {f"{a}-{b}": c for (a, b), (c, _) in links.items()}}
