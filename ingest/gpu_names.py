"""One GPU detector for every bill: the GPU a bill line names, however its cloud spells it.

`gpu_detect(*texts)` reads provider text (SKU descriptions, instance types, meter names) and
returns `GpuMatch(model, count, via)` or None; `line_gpu(...)` does the same over a bill line's
stored fields (ECONOMICS.md, GPU cost). Pure standard library, no ORM; results are cached per text.

Tokens. A text is cut into words at every non-alphanumeric character and where a lower-case
letter meets an upper-case one ("NCasT4" -> "NCas" "T4", "8xH100" -> "8x" "H100"); each word is
then cut at letter/digit boundaries, and a count's "x" glued to a model's first letters is cut off
("8xh100" -> 8 x h 100; "48xlarge" stays 48 xlarge). `tokens("gpu_8x_H100-SXM5")` is
["gpu", "8", "x", "h", "100", "sxm", "5"]; model H100 is the token sequence ("h", "100").

A model matches when its tokens appear
- at the start of a word, or after a count glued in front of it ("8xh100", "2xA100");
- glued together (h100, mi300x): only tokens of three letters or more may stand in their own word
  ("RTX 4090", "Gaudi 3", "RTX 6000 Ada");
- followed, inside the same word, by nothing or by descriptor tokens only: sxm, pcie, nvl,
  nvlink, ib, hbm, oam, ti, v<digits> (version) or x<digits> (count). Anything else glued behind
  it makes another name: "t4g" (Graviton) is not T4, "Standard_L4s" (storage) is not L4; the
  models whose suffix is a letter are names of their own (A10G, L40S, MI300X, MI250X).
Exceptions, each for a real look-alike:
- P4 and P40 need a GPU word (gpu, nvidia, tesla, quadro) in the line's provider text: Azure's
  Premium SSD tiers are "P4 LRS Disk", "P40 LRS Disk".
- L4 is not a GPU in a text about load balancing (load, balancer, balancing, lb, proxy, layer,
  firewall): "Network Load Balancer L4" is layer 4.
- Azure sizes other than the GPU N-series (Standard_A10, Standard_L4s, Standard_NP10s: an FPGA)
  are blanked before models are matched; GCP SKU ids and UUIDs (hex groups) are never read.

Families, matched on the raw lower-cased text because their punctuation matters:
- AWS `<family>.<size>` with an optional SageMaker `ml.` prefix: p5.48xlarge -> H100 x8 (the
  AWS instance type tables give the count; fractional-GPU sizes such as g6f give None).
- GCP machine types a2/a3/a4/a4x-*gpu-<N>g, g2-standard-<vCPUs>, TPU ct5lp-hightpu-4t; and SKU
  descriptions "A2 Instance Core", "A3 Ultra Instance Ram", "G2 Instance Core".
- Azure N-series sizes NC, NCC, ND, NG, NV (Standard_ND96isr_H100_v5, meter "NC24ads A100 v4",
  subcategory "NCv3 Series"): the model in the name, else the one Microsoft documents for the
  family and version. A bare v1 size ("NC6") counts only beside "Virtual Machines" (or "series").
- OCI shapes BM.GPU.H100.8, BM.GPU4.8, VM.GPU.A10.1; Lambda gpu_8x_h100_sxm5.
- The word "gpu" alone gives model "GPU" (via "gpu_word"), but never from a user-chosen name
  (resource names, resource groups): "gpu-bucket" is a storage bucket someone named. Model and
  family names count in user-chosen names too ("train-h100-7"), as ECONOMICS.md says.
Accelerators that are the GPU budget count as GPUs: TPU ("TPU v5e"), Trainium, Inferentia, Gaudi,
AWS dl2q's Qualcomm "Cloud AI 100", AWS g5g's "T4G", g4ad's Radeon "V520".
Rules rank family/shape first (they also give the count), then models, then the word "gpu";
within a rank the first text wins.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["LINE_FIELDS", "GpuMatch", "gpu_detect", "line_gpu", "line_gpu_type", "tokens"]


@dataclass(frozen=True)
class GpuMatch:
    model: str  # canonical: "H100", "A10G", "L40S", "MI300X", "TPU v5e", "Trainium2", "NC-series", "GPU"
    count: int | None  # GPUs the name gives (8 for p5.48xlarge), None when it does not say
    via: str  # the rule: model, aws_family, gcp_family, azure_family, oci_shape, lambda, gpu_word, gpu_type


# The CostLine fields `line_gpu` reads: line_gpu(**{f: getattr(line, f) for f in LINE_FIELDS}).
LINE_FIELDS = (
    "gpu_type", "sku_id", "resource_type", "resource_name", "charge_description", "service_name", "service_category",
)  # fmt: skip

# --- tokens -----------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_RUN = re.compile(r"[a-z]+|[0-9]+")


def _split(part: str) -> tuple[str, ...]:
    runs = _RUN.findall(part.lower())
    if len(runs) < 2:
        return tuple(runs)
    out = []
    for index, run in enumerate(runs):
        # "8xh100": the count's x glued to the model's first letters, which start a model ("xlarge" does not).
        if run[0] == "x" and index and runs[index - 1].isdigit() and run[1:] in _FIRST_TOKENS:
            out.extend(("x", run[1:]))
        else:
            out.append(run)
    return tuple(out)


def _words(text: str) -> list[tuple[str, ...]]:
    return [_split(part) for word in _WORD.findall(text) for part in _CAMEL.split(word)]


def tokens(text: str) -> list[str]:
    """Lower-case tokens of `text`, cut at non-alphanumerics, lower/upper case changes and letter/digit boundaries."""
    return [token for word in _words(text) for token in word]


# --- models -----------------------------------------------------------------------------------------------

# Canonical name -> spellings. Spaces mark nothing: breaks are allowed wherever a 3+ letter token stands.
_MODEL_SPELLINGS = {
    "GB300": ("gb300",), "GB200": ("gb200",), "GH200": ("gh200",), "B300": ("b300",), "B200": ("b200",),
    "B100": ("b100",), "H800": ("h800",), "H200": ("h200",), "H100": ("h100",), "H20": ("h20",),
    "A800": ("a800",), "A100": ("a100",), "A10G": ("a10g",), "A10": ("a10",), "A40": ("a40",), "A30": ("a30",),
    "A16": ("a16",), "L40S": ("l40s",), "L40": ("l40",), "L4": ("l4",), "T4": ("t4",), "V100": ("v100",),
    "P100": ("p100",), "P40": ("p40",), "P4": ("p4",), "K80": ("k80",), "K520": ("k520",), "M60": ("m60",),
    "A6000": ("a6000",), "A5000": ("a5000",), "A4500": ("a4500",), "A4000": ("a4000",),
    "P6000": ("p6000",), "P5000": ("p5000",), "P4000": ("p4000",),
    "MI355X": ("mi355x",), "MI325X": ("mi325x",), "MI300X": ("mi300x",), "MI300A": ("mi300a",), "MI300": ("mi300",),
    "MI250X": ("mi250x",), "MI250": ("mi250",), "MI210": ("mi210",), "MI100": ("mi100",), "MI25": ("mi25",),
    "V520": ("v520",), "V620": ("v620",), "V710": ("v710",),
    "Gaudi3": ("gaudi3", "gaudi 3"), "Gaudi2": ("gaudi2", "gaudi 2"), "Gaudi": ("gaudi",),
    "Trainium2": ("trainium2", "trainium 2"), "Trainium": ("trainium",),
    "Inferentia2": ("inferentia2", "inferentia 2"), "Inferentia": ("inferentia",),
}  # fmt: skip
_WEAK_MODELS = frozenset({"P4", "P40"})  # Azure disk tiers: need a GPU word beside them
_GPU_WORDS = frozenset({"gpu", "gpus", "nvidia", "tesla", "quadro"})
_LAYER4_WORDS = frozenset({"load", "balancer", "balancing", "lb", "proxy", "layer", "firewall"})
_TAIL_LETTERS = frozenset({"sxm", "pcie", "nvl", "nvlink", "ib", "hbm", "oam", "ti", "v", "x"})
_TAIL_NEEDS_DIGITS = frozenset({"v", "x"})
_VENDOR_WORDS = frozenset({("nvidia",), ("tesla",), ("geforce",), ("quadro",), ("amd",), ("instinct",),
                           ("intel",), ("habana",), ("radeon",), ("pro",), ("rtx",)})  # fmt: skip
_MAX_COUNT = 16


def _spec(spelling: str) -> tuple[str, ...]:
    return tuple(_RUN.findall(spelling.replace(" ", "")))


_SPECS: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for _name, _spellings in _MODEL_SPELLINGS.items():
    for _spelling in _spellings:
        _seq = _spec(_spelling)
        _SPECS.setdefault(_seq[0], []).append((_name, _seq))
_FIRST_TOKENS = frozenset({*_SPECS, "rtx", "tpu"})
for _list in _SPECS.values():
    _list.sort(key=lambda item: -len(item[1]))  # the longest spelling first: MI300X before MI300


def _breakable(left: str, right: str) -> bool:
    return (left.isalpha() and len(left) >= 3) or (right.isalpha() and len(right) >= 3)


def _count(text: str) -> int | None:
    number = int(text)
    return number if 1 <= number <= _MAX_COUNT else None


def _count_word(word: tuple[str, ...]) -> int | None:
    if len(word) == 2 and word[0].isdigit() and word[1] == "x":
        return _count(word[0])
    if len(word) == 2 and word[0] == "x" and word[1].isdigit():
        return _count(word[1])
    return None


def _tail(rest: tuple[str, ...]) -> tuple[bool, int | None]:
    """(valid, count) of the tokens glued behind a model: descriptors only."""
    index, count = 0, None
    while index < len(rest):
        token = rest[index]
        if token not in _TAIL_LETTERS:
            return False, None
        index += 1
        has_digits = index < len(rest) and rest[index].isdigit()
        if token in _TAIL_NEEDS_DIGITS and not has_digits:
            return False, None
        if has_digits:
            if token == "x":
                count = _count(rest[index])
            index += 1
    return True, count


def _around_count(words: list[tuple[str, ...]], first: int, last: int) -> int | None:
    """A count written in the words before ("8x NVIDIA H100", "8 x H100") or just after ("H100 (8x)") a model."""
    index = first - 1
    while index >= 0 and words[index] in _VENDOR_WORDS:
        index -= 1
    if index >= 0:
        found = _count_word(words[index])
        if found:
            return found
        if words[index] == ("x",) and index > 0 and len(words[index - 1]) == 1 and words[index - 1][0].isdigit():
            return _count(words[index - 1][0])
    for index in range(last + 1, min(last + 5, len(words))):
        found = _count_word(words[index])
        if found:
            return found
        following = words[index + 1] if index + 1 < len(words) else ()
        if words[index] == ("x",) and len(following) == 1 and following[0].isdigit():
            return _count(following[0])
    return None


_RTX_NUMBER = re.compile(r"[2-8]0[5-9]0|[2-8]000")


def _rtx(flat, index) -> tuple[str, int] | None:
    """("RTX 4090", tokens used) for rtx [pro] <number> [ti|ada] starting at flat[index]."""
    names, at = ["RTX"], index + 1
    if at < len(flat) and flat[at][0] == "pro":
        names.append("PRO")
        at += 1
    if at >= len(flat) or not _RTX_NUMBER.fullmatch(flat[at][0]):
        return None
    names.append(flat[at][0])
    at += 1
    if at < len(flat) and flat[at][0] in ("ti", "ada"):
        names.append("Ti" if flat[at][0] == "ti" else "Ada")
        at += 1
    return " ".join(names), at - index


def _tpu(flat, index) -> tuple[str, int]:
    """("TPU v5e", tokens used) for tpu [v<N>[e|p|lite...]] ("TPU v5e", "tpu-v5p", "TPUv4"), or ("TPU", 1)."""
    at = index + 1 if flat[index][0] == "tpuv" else index + 2
    if flat[index][0] == "tpu" and not (at - 1 < len(flat) and flat[at - 1][0] == "v"):
        return "TPU", 1
    if at >= len(flat) or not flat[at][0].isdigit():
        return "TPU", 1
    generation, at = flat[at][0], at + 1
    suffix = ""
    if at < len(flat) and flat[at][0] in ("e", "p", "lite", "litepod") and flat[at][1] == flat[at - 1][1]:
        suffix, at = ("e" if flat[at][0].startswith("lite") else flat[at][0]), at + 1
    elif at < len(flat) and flat[at][0] == "lite":
        suffix, at = "e", at + 1
    return f"TPU v{generation}{suffix}", at - index


def _model_candidates(words: list[tuple[str, ...]], lowered: set[str]) -> list[tuple[int, str, int | None, str, int]]:
    """(position, model, count, need, word index) of each model named in a text's words."""
    flat = [(token, wid, pos) for wid, word in enumerate(words) for pos, token in enumerate(word)]
    found = []
    index = 0
    while index < len(flat):
        token, wid, pos = flat[index]
        word = words[wid]
        glued_count = None
        if pos == 2 and word[0].isdigit() and word[1] == "x":
            glued_count = _count(word[0])
        elif pos != 0:
            index += 1
            continue
        hit = None  # (model, tokens used)
        if token == "rtx":
            hit = _rtx(flat, index)
        elif token in ("tpu", "tpuv"):
            hit = _tpu(flat, index)
        elif token == "trillium":
            hit = ("TPU v6e", 1)
        if hit is None:
            for name, seq in _SPECS.get(token, ()):
                end = index + len(seq)
                if end > len(flat) or any(flat[index + k][0] != seq[k] for k in range(len(seq))):
                    continue
                if any(
                    flat[index + k][1] != flat[index + k - 1][1] and not _breakable(seq[k - 1], seq[k])
                    for k in range(1, len(seq))
                ):
                    continue
                last_wid = flat[end - 1][1]
                if not _tail(words[last_wid][flat[end - 1][2] + 1 :])[0]:
                    continue
                hit = (name, len(seq))
                break
        if hit is None:
            index += 1
            continue
        name, used = hit
        end = index + used
        last_wid, last_pos = flat[end - 1][1], flat[end - 1][2]
        valid, tail_count = _tail(words[last_wid][last_pos + 1 :])
        if not valid or (name == "L4" and lowered & _LAYER4_WORDS):
            index += 1
            continue
        count = glued_count or tail_count or _around_count(words, wid, last_wid)
        found.append((index, name, count, "gpu" if name in _WEAK_MODELS else "", wid))
        index = end
    return found


# --- families ---------------------------------------------------------------------------------------------

_SIZES_1_4_8 = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4, "24xlarge": 4,
                "48xlarge": 8}  # fmt: skip
# AWS family -> (GPU, GPUs per size), from the EC2 accelerated computing instance tables.
AWS_FAMILIES = {
    "p2": ("K80", {"xlarge": 1, "8xlarge": 8, "16xlarge": 16}),
    "p3": ("V100", {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
    "p3dn": ("V100", {"24xlarge": 8}),
    "p4d": ("A100", {"24xlarge": 8}),
    "p4de": ("A100", {"24xlarge": 8}),
    "p5": ("H100", {"4xlarge": 1, "48xlarge": 8}),
    "p5e": ("H200", {"48xlarge": 8}),
    "p5en": ("H200", {"48xlarge": 8}),
    "p6-b200": ("B200", {"48xlarge": 8}),
    "p6-b300": ("B300", {"48xlarge": 8}),
    "p6e-gb200": ("GB200", {"36xlarge": 4}),
    "g2": ("K520", {"2xlarge": 1, "8xlarge": 4}),
    "g3": ("M60", {"4xlarge": 1, "8xlarge": 2, "16xlarge": 4}),
    "g3s": ("M60", {"xlarge": 1}),
    "g4dn": ("T4", {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4, "metal": 8}),
    "g4ad": ("V520", {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 2, "16xlarge": 4}),
    "g5": ("A10G", _SIZES_1_4_8),
    "g5g": ("T4G", {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 2, "metal": 2}),
    "g6": ("L4", _SIZES_1_4_8),
    "gr6": ("L4", {"4xlarge": 1, "8xlarge": 1}),
    "g6e": ("L40S", _SIZES_1_4_8),
    "g6f": ("L4", {}),  # fractions of a GPU
    "gr6f": ("L4", {}),
    "trn1": ("Trainium", {"2xlarge": 1, "32xlarge": 16}),
    "trn1n": ("Trainium", {"32xlarge": 16}),
    "trn2": ("Trainium2", {"48xlarge": 16}),
    "trn2u": ("Trainium2", {"48xlarge": 16}),
    "inf1": ("Inferentia", {"xlarge": 1, "2xlarge": 1, "6xlarge": 4, "24xlarge": 16}),
    "inf2": ("Inferentia2", {"xlarge": 1, "8xlarge": 1, "24xlarge": 6, "48xlarge": 12}),
    "dl1": ("Gaudi", {"24xlarge": 8}),
    "dl2q": ("Cloud AI 100", {"24xlarge": 8}),
}
_AWS = re.compile(
    r"(?<![a-z0-9])(?:ml\.)?(" + "|".join(sorted(map(re.escape, AWS_FAMILIES), key=len, reverse=True)) + r")"
    r"\.(\d*xlarge|large|medium|small|metal(?:-\d+xl)?)(?![a-z0-9])"
)
# GCP accelerator-optimised machine types and TPU VM types.
_GCP_MACHINE = re.compile(r"(?<![a-z0-9])(a2|a3|a4x|a4)-(highgpu|megagpu|ultragpu|edgegpu|maxgpu)-(\d+)g(?![a-z0-9])")
_GCP_FAMILY_GPU = {"a2": "A100", "a3": "H100", "a4": "B200", "a4x": "GB200"}
_GCP_G2 = re.compile(r"(?<![a-z0-9])g2-(standard|custom)-(\d+)(?![a-z0-9])")
_G2_GPUS = {4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8}
_GCP_TPU = re.compile(r"(?<![a-z0-9])ct(\d)(lp|p|e)?-(?:hightpu|standard)-(\d+)t(?![a-z0-9])")
_TPU_TYPES = {("3", ""): "TPU v3", ("3", "p"): "TPU v3", ("4", "p"): "TPU v4", ("5", "lp"): "TPU v5e",
              ("5", "p"): "TPU v5p", ("6", "e"): "TPU v6e"}  # fmt: skip
_GCP_SKU = re.compile(
    r"(?<![a-z0-9])(a2|a3|a4x|a4|g2)(?:\s+(ultra|mega|high|edge|highgpu|megagpu|ultragpu))?(?:\s+custom)?"
    r"\s+(?:instance|cpu|core|ram|memory)(?![a-z0-9])"
)
# OCI GPU shapes: BM.GPU.H100.8, BM.GPU4.8, VM.GPU.A10.1, BM.GPU.A100-v2.8.
_OCI = re.compile(r"(?<![a-z0-9])(?:bm|vm)\.gpu(\d*)\.(?:([a-z0-9-]+)\.)?(\d+)(?![a-z0-9])")
_OCI_GENERATIONS = {"2": "P100", "3": "V100", "4": "A100"}
_LAMBDA = re.compile(r"(?<![a-z0-9])gpu_(\d+)x_([a-z0-9_]+)")
# Azure sizes that are not GPU N-series: blanked so "Standard_A10" or "Standard_L4s" never reads as a GPU.
_AZURE_OTHER_SIZE = re.compile(r"(?<![a-z0-9])standard_(?!n(?:cc|c|d|g|v)\d)[a-z]+\d[a-z0-9_]*", re.IGNORECASE)
_AZURE_SIZE = re.compile(r"n(cc|c|d|g|v)(\d+)([a-z]*)")
_AZURE_SERIES = re.compile(r"n(cc|c|d|g|v)([adilmrst]*?)(?:v(\d))?")
_AZURE_VERSION = re.compile(r"v(\d)")
_AZURE_NUMBERS = frozenset({4, 6, 8, 12, 16, 18, 24, 28, 32, 36, 40, 48, 64, 72, 80, 96, 128})
# Sizes whose names carry no GPU: (family, version) -> the GPU Microsoft documents for it.
_AZURE_FAMILY_GPU = {("c", 1): "K80", ("c", 2): "P100", ("c", 3): "V100", ("d", 1): "P40", ("d", 2): "V100",
                     ("d", 4): "A100", ("v", 1): "M60", ("v", 3): "M60", ("v", 4): "MI25"}  # fmt: skip
# (family, model[, version]) -> GPUs per vCPU count, from the N-series size tables; absent sizes hold part of a GPU.
_AZURE_GPUS = {
    ("c", "K80"): {6: 1, 12: 2, 24: 4}, ("c", "P100"): {6: 1, 12: 2, 24: 4}, ("c", "V100"): {6: 1, 12: 2, 24: 4},
    ("c", "T4"): {4: 1, 8: 1, 16: 1, 64: 4}, ("c", "A100"): {24: 1, 48: 2, 96: 4}, ("c", "H100"): {40: 1, 80: 2},
    ("cc", "H100"): {40: 1}, ("d", "P40"): {6: 1, 12: 2, 24: 4}, ("d", "V100"): {40: 8}, ("d", "A100"): {96: 8},
    ("d", "H100"): {96: 8}, ("d", "H200"): {96: 8}, ("d", "MI300X"): {96: 8}, ("d", "GB200"): {128: 4},
    ("v", "M60"): {6: 1, 12: 2, 24: 4}, ("v", "M60", 3): {12: 1, 24: 2, 48: 4}, ("v", "MI25"): {32: 1},
    ("v", "A10"): {36: 1, 72: 2}, ("v", "V710"): {28: 1}, ("g", "V620"): {32: 1},
}  # fmt: skip
_HEX_ID = re.compile(r"[0-9a-f]{4}(?:-[0-9a-f]{4})+|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")
_MAYBE = re.compile(r"\d|gpu|tpu|gaudi|trainium|inferentia|trillium|series|nvidia|tesla|quadro|virtual")


def _azure(words, models, lowered) -> tuple[str, int | None, str] | None:
    """(model, count, need) for the first Azure N-series size ("NC24ads", "Standard_NC6s") or series in a text."""
    joined = ["".join(word) for word in words]
    for index, word in enumerate(joined):
        size = _AZURE_SIZE.fullmatch(word)
        if size and int(size.group(2)) not in _AZURE_NUMBERS:
            size = None
        series = None if size else _AZURE_SERIES.fullmatch(word)
        if not size and not (series and "series" in lowered):
            continue
        family = (size or series).group(1)
        version_word = next((w for w in joined[index + 1 : index + 4] if _AZURE_VERSION.fullmatch(w)), None)
        version = int(series.group(3)) if series and series.group(3) else None
        if version is None and version_word:
            version = int(version_word[1:])
        named = next((m for (_, m, _, _, wid) in models if index < wid <= index + 3), None)
        model = named or _AZURE_FAMILY_GPU.get((family, version or 1))
        # A bare v1 size ("NC6", "ND12s") is read only beside Azure's virtual machines.
        prefixed = index > 0 and joined[index - 1] == "standard"
        need = "" if (prefixed or series or version_word or named) else "vm"
        if model is None:
            return f"N{family.upper()}-series", None, need
        sizes = _AZURE_GPUS.get((family, model, version)) or _AZURE_GPUS.get((family, model), {})
        count = sizes.get(int(size.group(2))) if size else None
        return model, count, need
    return None


_Candidate = tuple[int, int, str, int | None, str, str]  # rank, position, model, count, via, need


@lru_cache(maxsize=65536)
def _scan(text: str) -> tuple[tuple[_Candidate, ...], bool, bool]:
    """(candidates, names a GPU word, names Azure virtual machines) of one text; pure and cached."""
    lowered_text = text.lower()
    if not _MAYBE.search(lowered_text) or _HEX_ID.fullmatch(lowered_text.strip()):
        return (), False, False
    words = _words(_AZURE_OTHER_SIZE.sub(" ", text) if "standard_" in lowered_text else text)
    flat = {token for word in words for token in word}
    gpu_context = bool(flat & _GPU_WORDS)
    vm_context = ("virtual" in flat and ("machines" in flat or "machine" in flat)) or "virtualmachines" in flat
    found: list[_Candidate] = []
    for match in _AWS.finditer(lowered_text):
        model, sizes = AWS_FAMILIES[match.group(1)]
        found.append((0, match.start(), model, sizes.get(match.group(2)), "aws_family", ""))
    for match in _GCP_MACHINE.finditer(lowered_text):
        family, kind = match.group(1), match.group(2)
        model = "H200" if family == "a3" and kind == "ultragpu" else _GCP_FAMILY_GPU[family]
        found.append((0, match.start(), model, _count(match.group(3)), "gcp_family", ""))
    for match in _GCP_G2.finditer(lowered_text):
        gpus = _G2_GPUS.get(int(match.group(2))) if match.group(1) == "standard" else None
        found.append((0, match.start(), "L4", gpus, "gcp_family", ""))
    for match in _GCP_TPU.finditer(lowered_text):
        model = _TPU_TYPES.get((match.group(1), match.group(2) or ""), f"TPU v{match.group(1)}")
        found.append((0, match.start(), model, int(match.group(3)), "gcp_family", ""))
    for match in _GCP_SKU.finditer(lowered_text):
        family, kind = match.group(1), match.group(2) or ""
        model = "L4" if family == "g2" else ("H200" if family == "a3" and "ultra" in kind else _GCP_FAMILY_GPU[family])
        found.append((0, match.start(), model, None, "gcp_family", ""))
    for match in _OCI.finditer(lowered_text):
        named = _first_model(match.group(2) or "")
        model = named or _OCI_GENERATIONS.get(match.group(1), "GPU")
        found.append((0, match.start(), model, _count(match.group(3)), "oci_shape", ""))
    for match in _LAMBDA.finditer(lowered_text):
        model = _first_model(match.group(2).replace("_", " "))
        if model:
            found.append((0, match.start(), model, _count(match.group(1)), "lambda", ""))
    models = _model_candidates(words, flat)
    azure = _azure(words, models, flat) if "n" in lowered_text else None
    if azure:
        found.append((0, -1, azure[0], azure[1], "azure_family", azure[2]))
        vm_context = vm_context or "series" in flat  # an N-series meter subcategory is Azure VMs
    found.extend((1, position, model, count, "model", need) for position, model, count, need, _ in models)
    if "gpu" in flat or "gpus" in flat:
        found.append((2, 0, "GPU", None, "gpu_word", ""))
    found.sort(key=lambda candidate: candidate[:2])
    return tuple(found), gpu_context, vm_context


def _first_model(text: str) -> str | None:
    words = _words(text)
    models = _model_candidates(words, {t for w in words for t in w})
    return models[0][1] if models else None


def _detect(texts, names=()) -> GpuMatch | None:
    """The best candidate over provider `texts` then user-chosen `names` whose needs the provider texts meet.

    Best: the lowest rule rank, then the earliest text, then the earliest place in it. When it gives no count,
    another candidate naming the same model may (GCP "A2 Instance Core" beside machine type a2-highgpu-8g)."""
    scans = [_scan(t) for t in texts if t]
    named = [_scan(t) for t in names if t]
    if not any(scan[0] for scan in scans) and not any(scan[0] for scan in named):
        return None
    gpu_context = any(scan[1] for scan in scans)
    vm_context = any(scan[2] for scan in scans)
    eligible = []
    for order, (candidates, _, _) in enumerate(scans + named):
        for rank, position, model, count, via, need in candidates:
            if (via == "gpu_word" and order >= len(scans)) or (need == "gpu" and not gpu_context):
                continue
            if need == "vm" and not vm_context:
                continue
            eligible.append(((rank, order, position), model, count, via))
    if not eligible:
        return None
    _, model, count, via = min(eligible, key=lambda item: item[0])
    if count is None:
        count = next((c for _, m, c, _ in sorted(eligible, key=lambda item: item[0]) if m == model and c), None)
    return GpuMatch(model, count, via)


def gpu_detect(*texts: str) -> GpuMatch | None:
    """The GPU (model, count, rule) that these provider texts name, or None; the first text wins a tie."""
    return _detect(texts)


def line_gpu(
    *,
    gpu_type: str = "",
    instance_type: str = "",
    sku_price_details: str = "",
    sku_id: str = "",
    resource_type: str = "",
    charge_description: str = "",
    service_name: str = "",
    service_category: str = "",
    provider_columns: Iterable[str] = (),
    resource_name: str = "",
    names: Iterable[str] = (),
) -> GpuMatch | None:
    """The GPU a bill line's naming fields name, or None.

    `provider_columns` are further provider-written texts (x_ columns, usage types, meter names);
    `resource_name` and `names` are user-chosen names, where the word "gpu" alone proves nothing.
    A non-empty `gpu_type` that names no known GPU is the user's mark (a mapped GPU type column):
    model "GPU", via "gpu_type", unless it says CPU.
    """
    texts = (gpu_type, instance_type, sku_price_details, sku_id, resource_type, charge_description, service_name,
             service_category, *provider_columns)  # fmt: skip
    found = _detect(texts, (resource_name, *names))
    if found is None and gpu_type.strip() and "cpu" not in tokens(gpu_type):
        return GpuMatch("GPU", None, "gpu_type")
    return found


def line_gpu_type(**fields) -> str:
    """What a source stores in gpu_type: the canonical model `line_gpu` finds (max 100 characters), or ''."""
    found = line_gpu(**fields)
    return found.model[:100] if found else ""
