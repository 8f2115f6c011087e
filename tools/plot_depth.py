#!/usr/bin/env python3
"""Tokens/s against context depth, as an SVG with no plotting library: one panel for prefill (the
rate of the chunk ending at each depth) and one for decode, from the JSON of
`parley bench --depths ... --json` (one file per series).

    tools/plot_depth.py --out bench/depth.svg LABEL=sweep.json [LABEL=other.json ...]
"""
import argparse
import json
import math

W, H = 860, 360          # whole picture
PW, PH = 340, 250        # one panel's plot area
LEFT, TOP = 70, 50       # first panel's plot origin (top-left)
GAP = 90                 # between the panels
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def nice_max(v):
    """The smallest 1, 2 or 5 times a power of ten at or above v."""
    if v <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 5, 10):
        if m * p >= v:
            return m * p
    return 10 * p


def panel(x0, title, series, key, depths):
    out = []
    ymax = nice_max(max(r[key] for _, rows in series for r in rows) * 1.05)
    lo, hi = math.log2(min(depths)), math.log2(max(depths))
    span = max(hi - lo, 1e-9)

    def px(d):
        return x0 + (math.log2(d) - lo) / span * PW

    def py(v):
        return TOP + PH - v / ymax * PH

    out.append(f'<text x="{x0 + PW / 2}" y="{TOP - 18}" text-anchor="middle" font-size="15">{title}</text>')
    out.append(f'<rect x="{x0}" y="{TOP}" width="{PW}" height="{PH}" fill="none" stroke="#444"/>')
    for i in range(6):
        v = ymax * i / 5
        y = py(v)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PW}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{v:g}</text>')
    for d in depths:
        x = px(d)
        label = f"{d // 1024}k" if d >= 1024 and d % 1024 == 0 else str(d)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + PH}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + PH + 16}" text-anchor="middle" font-size="11">{label}</text>')
    out.append(f'<text x="{x0 + PW / 2}" y="{TOP + PH + 34}" text-anchor="middle" font-size="12">tokens in context</text>')
    out.append(f'<text x="{x0 - 48}" y="{TOP + PH / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 {x0 - 48} {TOP + PH / 2})">tokens/s</text>')
    for i, (_, rows) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        pts = " ".join(f"{px(r['depth']):.1f},{py(r[key]):.1f}" for r in rows)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        for r in rows:
            out.append(f'<circle cx="{px(r["depth"]):.1f}" cy="{py(r[key]):.1f}" r="3" fill="{c}"/>')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="")
    ap.add_argument("series", nargs="+", help="LABEL=FILE.json")
    args = ap.parse_args()
    series = []
    for s in args.series:
        label, _, path = s.partition("=")
        with open(path) as f:
            rows = sorted(json.load(f)["depths"], key=lambda r: r["depth"])
        series.append((label, rows))
    depths = sorted({r["depth"] for _, rows in series for r in rows})
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H + 20 * len(series)}" '
           f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>']
    if args.title:
        svg.append(f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14">{args.title}</text>')
    svg += panel(LEFT, "prefill (chunk ending at the depth)", series, "pp_tps", depths)
    svg += panel(LEFT + PW + GAP, "decode", series, "tg_tps", depths)
    for i, (label, _) in enumerate(series):
        y = H + 20 * i
        svg.append(f'<rect x="{LEFT}" y="{y - 9}" width="14" height="4" fill="{COLORS[i % len(COLORS)]}"/>')
        svg.append(f'<text x="{LEFT + 20}" y="{y - 4}" font-size="12">{label}</text>')
    svg.append("</svg>")
    with open(args.out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
