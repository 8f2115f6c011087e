#!/usr/bin/env python3
"""TTFT per turn, with and without the prefix cache, from replay.mjs's JSON, as an SVG (stdlib only).

    python3 bench/agent-replay/plot.py bench/agent-replay/results-qwen.json bench/agent-replay/ttft-qwen.svg
"""
import json
import sys

data = json.load(open(sys.argv[1]))
out = sys.argv[2]
W, H, L, R, T, B = 640, 360, 60, 150, 30, 40
series = [(mode, run["rows"], color) for (mode, run), color in zip(data["runs"].items(), ["#1f77b4", "#d62728"])]
n = max(len(rows) for _, rows, _ in series)
ymax = max(r["ttft_delta_ms"] for _, rows, _ in series for r in rows) * 1.05
x = lambda t: L + (t - 1) / max(n - 1, 1) * (W - L - R)
y = lambda v: T + (1 - v / ymax) * (H - T - B)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{L}" y="18" font-size="13">TTFT per turn, {data["model"]} model, {data["threads"]} threads ({data["cpu"]["model"]})</text>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>']
for i in range(6):
    v = ymax * i / 5
    svg.append(f'<text x="{L-5}" y="{y(v)+4:.1f}" text-anchor="end">{v:.0f}</text>')
    svg.append(f'<line x1="{L}" y1="{y(v):.1f}" x2="{W-R}" y2="{y(v):.1f}" stroke="#ddd"/>')
for t in range(1, n + 1):
    svg.append(f'<text x="{x(t):.1f}" y="{H-B+14}" text-anchor="middle">{t}</text>')
svg.append(f'<text x="{(L+W-R)/2}" y="{H-5}" text-anchor="middle">turn</text>')
svg.append(f'<text x="14" y="{(T+H-B)/2}" transform="rotate(-90 14 {(T+H-B)/2})" text-anchor="middle">TTFT ms (first content_block_delta)</text>')
for k, (mode, rows, color) in enumerate(series):
    pts = " ".join(f"{x(r['turn']):.1f},{y(r['ttft_delta_ms']):.1f}" for r in rows)
    svg.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
    label = "prefix cache" if mode == "cache" else "--no-prefix-cache"
    svg.append(f'<line x1="{W-R+10}" y1="{T+20+k*18}" x2="{W-R+30}" y2="{T+20+k*18}" stroke="{color}" stroke-width="2"/>')
    svg.append(f'<text x="{W-R+35}" y="{T+24+k*18}">{label}</text>')
svg.append("</svg>")
open(out, "w").write("\n".join(svg) + "\n")
print(out)
