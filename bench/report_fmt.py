"""report_fmt.py — number formats, markdown tables and source notes of bench/report.py."""
import math
import re


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def yes(v):
    if isinstance(v, str):
        return v.strip().lower() in ("yes", "true", "on", "1", "fp16")
    return bool(v)


def f_us(v):
    if not is_num(v):
        return "—"
    if v < 100:
        return f"{v:.2f}"
    if v < 10000:
        return f"{v:,.1f}"
    return f"{v:,.0f}"


def f_sci(v):
    if not is_num(v):
        return "—"
    m, e = f"{v:.3e}".split("e")
    return f"{float(m):.2f}e{int(e)}"


def f_speedup(v):
    if not is_num(v):
        return "—"
    return f"{v:.1f}×" if v >= 10 else f"{v:.2f}×"


def f_times(v, better, worse):
    """A ratio (ours against theirs, > 1 is ours better) as '12.7× faster' or '2.84× slower'."""
    if not is_num(v) or v <= 0:
        return "—"
    return f"{f_speedup(v)} {better}" if v >= 1 else f"{f_speedup(1 / v)} {worse}"


def f_sig(v):
    """Three significant digits, without an exponent from 1,000 up: 22.4, 0.552, 1,269."""
    if not is_num(v):
        return "—"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def f_gen(v):
    """A JSON scalar as a table cell."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        a = abs(v)
        if a != 0 and (a >= 1e6 or a < 1e-3):
            return f_sci(v)
        if a >= 1000:
            return f"{v:,.1f}"
        return f"{v:.4g}"
    if v is None:
        return "—"
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_cell(c):
    """A table cell: a '|' not yet escaped is escaped, a line break becomes a space."""
    return re.sub(r"(?<!\\)\|", r"\\|", str(c)).replace("\n", " ")


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(md_cell(c) for c in r) + " |")
    return "\n".join(out)


def verdict(ok):
    return "meets" if ok else "**misses**"


def flatten(d, prefix="", depth=3):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and depth > 1:
            out.update(flatten(v, key + ".", depth - 1))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[key] = v
    return out


def numeric(d):
    """The numeric fields of a dict."""
    return {k: v for k, v in d.items() if is_num(v)}


class Notes:
    """Sources of one table, printed under it."""

    def __init__(self):
        self.items = []

    def add(self, s):
        if s not in self.items:
            self.items.append(s)

    def text(self, lead="Sources"):
        if not self.items:
            return ""
        return f"{lead}: " + "; ".join(f"from {i}" for i in self.items) + "."
